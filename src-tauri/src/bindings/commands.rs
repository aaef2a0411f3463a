//! The UI's command surface, generated from the commands' Rust signatures: for each command
//! `generate_handler!` registers (`src/lib.rs`), its name, the arguments the UI sends (the
//! Rust parameters but Tauri's own — `State`, `AppHandle`, windows — with Tauri's camelCase
//! keys; a `Channel<T>` as the UI's channel; an `Option` parameter may be left out) and what
//! it resolves to (`AppResult<T>`'s `T`), as `ui/src/generated/commands.ts`'s `Backend`
//! interface. A Rust type becomes its TypeScript name from the declarations of
//! [`super::render`], so a renamed or undeclared type fails here, and a changed parameter fails
//! the UI's type check.
//!
//! Read with `syn` from the sources when the bindings test runs (a test-only dependency): the
//! app itself carries none of this.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use syn::{FnArg, GenericArgument, Item, PathArguments, ReturnType, Type};

/// Where the file lives, from this crate's folder.
pub const PATH: &str = "../ui/src/generated/commands.ts";

/// Parameters Tauri fills in itself, by the last segment of their type's path.
const INJECTED: &[&str] = &["State", "AppHandle", "Window", "WebviewWindow", "Webview"];

/// Why the surface could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A source file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    /// A source file is not Rust `syn` reads.
    #[error("cannot parse {0}: {1}")]
    Parse(String, syn::Error),
    /// `src/lib.rs` registers no commands.
    #[error("no generate_handler![…] list in src/lib.rs")]
    NoHandlerList,
    /// A registered command was not found in its module.
    #[error("command {0}: no `#[tauri::command]` function of that name in {1}")]
    NoCommand(String, String),
    /// A command's parameter or result cannot be expressed for the UI.
    #[error("command {0}: {1}")]
    Type(String, String),
}

/// One command as the UI sees it.
struct Command {
    module: String,
    name: String,
    doc: Option<String>,
    args: Vec<(String, String, bool)>,
    result: String,
}

/// The file, from the sources under `src` and `names`: Rust type name → TypeScript name.
pub fn render(src: &Path, names: &BTreeMap<String, String>) -> Result<String, Error> {
    let lib = read(&src.join("lib.rs"))?;
    let list = handler_list(&lib).ok_or(Error::NoHandlerList)?;
    let mut commands = Vec::new();
    let mut files: BTreeMap<String, syn::File> = BTreeMap::new();
    for (module, name) in list {
        if !files.contains_key(&module) {
            let path = src.join(format!("{module}.rs"));
            let text = read(&path)?;
            let file =
                syn::parse_file(&text).map_err(|e| Error::Parse(path.display().to_string(), e))?;
            files.insert(module.clone(), file);
        }
        let file = &files[&module];
        let function = file
            .items
            .iter()
            .find_map(|item| match item {
                Item::Fn(f) if f.sig.ident == name && is_command(&f.attrs) => Some(f),
                _ => None,
            })
            .ok_or_else(|| Error::NoCommand(name.clone(), format!("src/{module}.rs")))?;
        commands.push(command(module, name, function, names)?);
    }
    Ok(write(&commands))
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Read(path.display().to_string(), e))
}

/// `module::command` pairs of the `generate_handler![…]` list, in order.
fn handler_list(lib: &str) -> Option<Vec<(String, String)>> {
    let start = lib.find("generate_handler![")? + "generate_handler![".len();
    let end = start + lib[start..].find(']')?;
    let list: Vec<_> = lib[start..end]
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| {
            let (module, name) = entry.rsplit_once("::")?;
            Some((module.to_owned(), name.to_owned()))
        })
        .collect();
    (!list.is_empty()).then_some(list)
}

fn is_command(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let segments: Vec<_> = a
            .path()
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        segments == ["tauri", "command"]
    })
}

/// The first paragraph of the doc comment, on one line.
fn doc(attrs: &[syn::Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for attr in attrs {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if nv.path.is_ident("doc") {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) = &nv.value
                {
                    let line = s.value().trim().to_owned();
                    if line.is_empty() {
                        break;
                    }
                    lines.push(line);
                }
            }
        }
    }
    (!lines.is_empty()).then(|| lines.join(" ").replace("*/", "* /"))
}

fn command(
    module: String,
    name: String,
    function: &syn::ItemFn,
    names: &BTreeMap<String, String>,
) -> Result<Command, Error> {
    let mut args = Vec::new();
    for input in &function.sig.inputs {
        let FnArg::Typed(typed) = input else {
            return Err(Error::Type(name, "a command takes no `self`".into()));
        };
        if last_segment(&typed.ty).is_some_and(|s| INJECTED.contains(&s.ident.to_string().as_str()))
        {
            continue;
        }
        let syn::Pat::Ident(ident) = &*typed.pat else {
            return Err(Error::Type(name, "a parameter is not a plain name".into()));
        };
        let optional = last_segment(&typed.ty).is_some_and(|s| s.ident == "Option");
        let ty = ts(&typed.ty, names).map_err(|e| Error::Type(name.clone(), e))?;
        args.push((camel(&ident.ident.to_string()), ty, optional));
    }
    let result = match &function.sig.output {
        ReturnType::Default => "null".to_owned(),
        ReturnType::Type(_, ty) => {
            let inner = match last_segment(ty) {
                Some(s) if s.ident == "AppResult" || s.ident == "Result" => first_generic(s)
                    .ok_or_else(|| Error::Type(name.clone(), "a Result without its type".into()))?,
                _ => ty,
            };
            ts(inner, names).map_err(|e| Error::Type(name.clone(), e))?
        }
    };
    Ok(Command {
        module,
        doc: doc(&function.attrs),
        name,
        args,
        result,
    })
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) => p.path.segments.last(),
        _ => None,
    }
}

fn first_generic(segment: &syn::PathSegment) -> Option<&Type> {
    generics(segment).into_iter().next()
}

fn generics(segment: &syn::PathSegment) -> Vec<&Type> {
    match &segment.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The TypeScript of a Rust type as the commands carry it in JSON.
fn ts(ty: &Type, names: &BTreeMap<String, String>) -> Result<String, String> {
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => return Ok("null".into()),
        Type::Reference(r) => return ts(&r.elem, names),
        _ => {}
    }
    let segment =
        last_segment(ty).ok_or("a parameter or result type of a shape the UI cannot be given")?;
    let ident = segment.ident.to_string();
    let inner = |i: usize| -> Result<String, String> {
        let args = generics(segment);
        let ty = args
            .get(i)
            .ok_or_else(|| format!("`{ident}` without its type"))?;
        ts(ty, names)
    };
    Ok(match ident.as_str() {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" | "f32"
        | "f64" => "number".into(),
        "String" | "str" | "PathBuf" | "Path" => "string".into(),
        "bool" => "boolean".into(),
        "Value" => "unknown".into(),
        "Map" => "Record<string, unknown>".into(),
        "Vec" => {
            let item = inner(0)?;
            if item.contains(' ') {
                format!("({item})[]")
            } else {
                format!("{item}[]")
            }
        }
        "Option" => format!("{} | null", inner(0)?),
        "Channel" => format!("Channel<{}>", inner(0)?),
        _ => {
            let name = names.get(&ident).ok_or_else(|| {
                format!("`{ident}` is not among the declared types (src-tauri/src/bindings/mod.rs)")
            })?;
            let args = generics(segment);
            if args.is_empty() {
                name.clone()
            } else {
                let args: Result<Vec<_>, _> = args.iter().map(|t| ts(t, names)).collect();
                format!("{name}<{}>", args?.join(", "))
            }
        }
    })
}

/// `page_size` → `pageSize`, as Tauri names a command's arguments.
fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn write(commands: &[Command]) -> String {
    let mut used: Vec<String> = Vec::new();
    let mut body = String::new();
    let mut module = "";
    for c in commands {
        if c.module != module {
            module = &c.module;
            let _ = write!(body, "\n  // src-tauri/src/{module}.rs\n");
        }
        if let Some(doc) = &c.doc {
            let _ = writeln!(body, "  /** {doc} */");
        }
        let args = if c.args.is_empty() {
            "None".to_owned()
        } else {
            let fields: Vec<_> = c
                .args
                .iter()
                .map(|(name, ty, optional)| {
                    format!("{name}{}: {ty}", if *optional { "?" } else { "" })
                })
                .collect();
            format!("{{ {} }}", fields.join("; "))
        };
        let _ = writeln!(body, "  {}(args: {args}): Promise<{}>;", c.name, c.result);
        for (_, ty, _) in &c.args {
            used.push(ty.clone());
        }
        used.push(c.result.clone());
    }
    let mut imports: Vec<String> = used
        .iter()
        .flat_map(|ty| {
            ty.split(|c: char| !c.is_alphanumeric() && c != '_')
                .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))
                .filter(|w| !["Channel", "Promise", "Record"].contains(w))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    imports.sort();
    imports.dedup();
    let mut out = String::from(
        "// Generated from the commands' Rust signatures by src-tauri/src/bindings/commands.rs: do not edit.\n\
         // Rewrite it with `BERTH_WRITE_BINDINGS=1 cargo test -p berth-desktop --lib bindings`.\n\
         import type { Channel } from \"@tauri-apps/api/core\";\n",
    );
    let _ = writeln!(
        out,
        "import type {{\n{}}} from \"./bindings\";",
        imports
            .iter()
            .map(|i| format!("  {i},\n"))
            .collect::<String>()
    );
    out.push_str(
        "\n/** A command that takes no arguments. */\nexport type None = Record<string, never>;\n\n\
         /** Each command, named as the command, taking its arguments as Tauri receives them. */\n\
         export interface Backend {",
    );
    out.push_str(&body);
    out.push_str("}\n\n/** A command's name. */\nexport type Command = keyof Backend;\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> BTreeMap<String, String> {
        [
            ("Entry", "VolumeEntry"),
            ("Page", "Page"),
            ("Tag", "HubTag"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
    }

    fn ty(text: &str) -> Type {
        syn::parse_str(text).expect("a type")
    }

    #[test]
    fn rust_types_become_their_typescript() {
        let n = names();
        assert_eq!(ts(&ty("Vec<Entry>"), &n).expect("a type"), "VolumeEntry[]");
        assert_eq!(ts(&ty("Option<u32>"), &n).expect("a type"), "number | null");
        assert_eq!(
            ts(&ty("Vec<Option<String>>"), &n).expect("a type"),
            "(string | null)[]"
        );
        assert_eq!(ts(&ty("Page<Tag>"), &n).expect("a type"), "Page<HubTag>");
        assert_eq!(
            ts(&ty("tauri::ipc::Channel<String>"), &n).expect("a type"),
            "Channel<string>"
        );
        assert_eq!(ts(&ty("()"), &n).expect("a type"), "null");
        let undeclared = ts(&ty("Secret"), &n).expect_err("undeclared");
        assert!(
            undeclared.contains("`Secret` is not among the declared types"),
            "{undeclared}"
        );
    }

    #[test]
    fn a_command_drops_tauris_parameters_and_names_its_arguments_as_tauri_does() {
        let function: syn::ItemFn = syn::parse_str(
            "/// Lists it.\n/// Second line.\n///\n/// Not this.\n#[tauri::command]\n\
             pub async fn hub_tags<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, \
             name: String, page_size: Option<u32>) -> AppResult<Page<Tag>> { todo!() }",
        )
        .expect("a function");
        let c = command("hub".into(), "hub_tags".into(), &function, &names()).expect("a command");
        assert_eq!(c.doc.as_deref(), Some("Lists it. Second line."));
        assert_eq!(
            c.args,
            vec![
                ("name".to_owned(), "string".to_owned(), false),
                ("pageSize".to_owned(), "number | null".to_owned(), true)
            ]
        );
        assert_eq!(c.result, "Page<HubTag>");
    }

    #[test]
    fn the_handler_list_is_read_in_order() {
        let lib =
            "x.invoke_handler(tauri::generate_handler![\n  vm::vm_state,\n  hub::hub_tags,\n])";
        assert_eq!(
            handler_list(lib).expect("a list"),
            vec![
                ("vm".into(), "vm_state".into()),
                ("hub".into(), "hub_tags".into())
            ]
        );
        assert!(handler_list("no list").is_none());
    }
}
