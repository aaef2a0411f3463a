//! Handlers for other CPU architectures' programs: at boot, before the engine starts, every
//! binfmt_misc entry of the image's `binfmt.d` files (Debian's qemu-user emulators, trimmed to
//! the architectures the image keeps: `vm-image/hooks/customize.sh`) is registered with the
//! kernel, so `docker run --platform linux/arm64` and BuildKit's foreign stages run.
//!
//! Every handler gets the `F` (fix-binary) flag: the kernel opens the interpreter when it is
//! registered, so it also runs in containers, whose mount namespaces do not have it. A handler
//! whose interpreter is missing, or a line that does not parse, is reported and skipped.
//!
//! The other architectures' definitions (`/usr/lib/berth/unemulated.d`) are registered with the
//! agent itself as the interpreter ([`UNEMULATED`]): a program of such an architecture then
//! fails with a message naming its architecture and the platforms that run, instead of the
//! kernel's bare `exec format error` ([`explain_unemulated`]). A handler that would match the
//! agent's own binary (the guest's architecture) is never registered.
//!
//! On Apple silicon the host shares Rosetta (tag `rosetta`, mounted by [`crate::shares`] at
//! [`ROSETTA_MOUNT`]) when it is installed: it is then the x86-64 handler, instead of qemu's.

use std::fs;
use std::path::Path;

use crate::reaper::Reaper;

/// Where binfmt_misc is mounted.
const BINFMT_MISC: &str = "/proc/sys/fs/binfmt_misc";
/// The image's handler definitions (systemd's `binfmt.d` format).
const CONF_DIR: &str = "/usr/lib/binfmt.d";
/// The definitions of the architectures without an emulator.
const UNEMULATED_DIR: &str = "/usr/lib/berth/unemulated.d";
/// The interpreter of those: a link to the agent, which [`explain_unemulated`] when run so.
pub const UNEMULATED: &str = "/usr/lib/berth/unemulated";
/// The platforms a Berth VM runs (natively or emulated: `EMULATED` in `vm-image/recipe.env`).
const PLATFORMS: &str =
    "linux/amd64, linux/arm64, linux/arm/v7, linux/riscv64, linux/ppc64le or linux/s390x";
/// Where the agent mounts the host's Rosetta share (berth-core's `vz::config::ROSETTA_MOUNT`).
const ROSETTA_MOUNT: &str = "/run/rosetta";
/// The qemu handler Rosetta replaces.
const QEMU_X86_64: &str = "qemu-x86_64";
/// Rosetta's handler for x86-64 ELF programs, as Apple documents it (`update-binfmts
/// --credentials yes --fix-binary yes`), with the interpreter under [`ROSETTA_MOUNT`].
const ROSETTA_ENTRY: &str = concat!(
    r":rosetta:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00",
    r":\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    ":/run/rosetta/rosetta:CF"
);

/// One binfmt_misc entry: `:name:type:offset:magic:mask:interpreter:flags`, the first character
/// being the separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handler {
    separator: char,
    pub name: String,
    kind: char,
    offset: String,
    magic: String,
    mask: String,
    pub interpreter: String,
    flags: String,
}

/// Why a `binfmt.d` line is not a handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("expected 7 fields after the separator, found {0}")]
    Fields(usize),
    #[error("the name {0:?} is empty or contains '/', or is '.' or '..'")]
    Name(String),
    #[error("the type {0:?} is neither M (magic) nor E (extension)")]
    Kind(String),
    #[error("the magic is empty")]
    Magic,
    #[error("the interpreter {0:?} is not an absolute path")]
    Interpreter(String),
    #[error("unknown flag {0:?} (P, O, C or F)")]
    Flag(char),
}

impl Handler {
    /// Parses one entry; `F` is added to its flags.
    pub fn parse(line: &str) -> Result<Handler, ParseError> {
        let separator = line.chars().next().ok_or(ParseError::Fields(0))?;
        let fields: Vec<&str> = line[separator.len_utf8()..].split(separator).collect();
        let [name, kind, offset, magic, mask, interpreter, flags] = fields[..] else {
            return Err(ParseError::Fields(fields.len()));
        };
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(ParseError::Name(name.into()));
        }
        let kind = match kind {
            "M" => 'M',
            "E" => 'E',
            other => return Err(ParseError::Kind(other.into())),
        };
        if magic.is_empty() {
            return Err(ParseError::Magic);
        }
        if !interpreter.starts_with('/') {
            return Err(ParseError::Interpreter(interpreter.into()));
        }
        let mut forced = String::new();
        for flag in flags.chars().chain(['F']) {
            if !"POCF".contains(flag) {
                return Err(ParseError::Flag(flag));
            }
            if !forced.contains(flag) {
                forced.push(flag);
            }
        }
        Ok(Handler {
            separator,
            name: name.into(),
            kind,
            offset: offset.into(),
            magic: magic.into(),
            mask: mask.into(),
            interpreter: interpreter.into(),
            flags: forced,
        })
    }

    /// This definition with the agent as its interpreter ([`UNEMULATED`]), which gets the
    /// program's path as its first argument (no `P` or `O` flag).
    pub fn unemulated(self) -> Handler {
        Handler {
            name: format!("unemulated-{}", self.name.trim_start_matches("qemu-")),
            interpreter: UNEMULATED.into(),
            flags: "F".into(),
            ..self
        }
    }

    /// Whether the kernel would run `header` (a file's first bytes) through this handler.
    pub fn matches(&self, header: &[u8]) -> bool {
        if self.kind != 'M' {
            return false;
        }
        let offset: usize = self.offset.parse().unwrap_or(0);
        let magic = unescape(&self.magic);
        let mask = unescape(&self.mask);
        magic.iter().enumerate().all(|(i, byte)| {
            let m = mask.get(i).copied().unwrap_or(0xff);
            header.get(offset + i).is_some_and(|h| (h ^ byte) & m == 0)
        })
    }

    /// The text written to binfmt_misc's `register` file.
    pub fn entry(&self) -> String {
        let s = self.separator;
        format!(
            "{s}{}{s}{}{s}{}{s}{}{s}{}{s}{}{s}{}",
            self.name, self.kind, self.offset, self.magic, self.mask, self.interpreter, self.flags
        )
    }
}

/// binfmt_misc's escapes: `\xHH` is the byte HH, anything else itself.
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 2..i + 4)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (
            bytes[i],
            bytes.get(i + 1),
            hex.and_then(|h| u8::from_str_radix(h, 16).ok()),
        ) {
            (b'\\', Some(b'x'), Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// The architecture of an ELF header, in Debian's words where there are some.
pub fn elf_arch(header: &[u8]) -> String {
    if header.len() < 20 || !header.starts_with(b"\x7fELF") {
        return "not an ELF".into();
    }
    let wide = header[4] == 2;
    let little = header[5] == 1;
    let machine = if little {
        u16::from_le_bytes([header[18], header[19]])
    } else {
        u16::from_be_bytes([header[18], header[19]])
    };
    let name = match (machine, wide, little) {
        (0x03, _, _) => "i386",
        (0x3e, _, _) => "amd64",
        (0xb7, _, true) => "arm64",
        (0xb7, _, false) => "aarch64_be",
        (0x28, _, true) => "arm",
        (0x28, _, false) => "armeb",
        (0x08, true, true) => "mips64el",
        (0x08, true, false) => "mips64",
        (0x08, false, true) => "mipsel",
        (0x08, false, false) => "mips",
        (0x14, _, _) => "powerpc",
        (0x15, _, true) => "ppc64el",
        (0x15, _, false) => "ppc64",
        (0x16, _, _) => "s390x",
        (0xf3, true, _) => "riscv64",
        (0xf3, false, _) => "riscv32",
        (0x102, _, _) => "loong64",
        (0x02 | 0x12 | 0x2b, _, _) => "sparc",
        (0x04, _, _) => "m68k",
        (0x0f, _, _) => "hppa",
        (0x2a, _, _) => "sh4",
        (0x9026, _, _) => "alpha",
        _ => return format!("ELF machine {machine:#x}"),
    };
    name.into()
}

/// When the agent runs as [`UNEMULATED`] (`args` is its whole command line, the program's path
/// first after it): the message for the program, which its caller prints before exiting 126.
pub fn explain_unemulated(args: &[String]) -> Option<String> {
    if args.first().map(String::as_str) != Some(UNEMULATED) {
        return None;
    }
    let program = args.get(1).map(String::as_str).unwrap_or("the program");
    let mut header = [0u8; 20];
    let read = fs::File::open(program).and_then(|mut file| {
        use std::io::Read;
        file.read(&mut header)
    });
    let arch = elf_arch(&header[..read.unwrap_or(0)]);
    Some(format!(
        "berth: {program} is a program for {arch}, which this Berth VM cannot run (no emulator for it): use an image for {PLATFORMS}"
    ))
}

/// The entries of one `binfmt.d` file: a blank line or one starting with `#` or `;` is a
/// comment; a line that does not parse comes back as the line and its error.
pub fn parse_conf(text: &str) -> Vec<Result<Handler, (String, ParseError)>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with(';'))
        .map(|line| Handler::parse(line).map_err(|err| (line.to_owned(), err)))
        .collect()
}

/// Registers the image's handlers (and Rosetta's when its share is mounted), reporting what was
/// registered and what was skipped. Never fails the boot: without handlers only foreign images
/// fail, each with the kernel's `exec format error`.
pub async fn register(reaper: &Reaper, in_wsl: bool) {
    let register = Path::new(BINFMT_MISC).join("register");
    if !register.exists() {
        if !fs::read_to_string("/proc/filesystems").is_ok_and(|f| f.contains("binfmt_misc")) {
            crate::modules::load(reaper, &["binfmt_misc"]).await;
        }
        if let Err(err) = nix::mount::mount(
            Some("binfmt_misc"),
            BINFMT_MISC,
            Some("binfmt_misc"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            None::<&str>,
        ) {
            return tracing::warn!("binfmt: cannot mount binfmt_misc on {BINFMT_MISC} ({err}): images of other CPU architectures will not run");
        }
    }
    let mut handlers = Vec::new();
    let rosetta = Path::new(ROSETTA_MOUNT).join("rosetta").exists();
    if rosetta {
        handlers.extend(parse_conf(ROSETTA_ENTRY));
    }
    handlers.extend(read_dir(CONF_DIR));
    // WSL's kernel is shared with the user's own distributions, whose handlers stay theirs.
    if !in_wsl {
        let unemulated = read_dir(UNEMULATED_DIR).into_iter();
        handlers.extend(unemulated.map(|handler| handler.map(Handler::unemulated)));
    }
    let mut own = [0u8; 64];
    let own_len = fs::File::open("/proc/self/exe")
        .and_then(|mut file| std::io::Read::read(&mut file, &mut own))
        .unwrap_or(0);
    let (mut registered, mut skipped) = (Vec::new(), Vec::new());
    for handler in handlers {
        let handler = match handler {
            Ok(handler) => handler,
            Err((line, err)) => {
                tracing::warn!("binfmt: skipping {line:?}: {err}");
                continue;
            }
        };
        let why = if handler.matches(&own[..own_len]) {
            Some("it would take the guest's own programs".to_owned())
        } else if rosetta && handler.name == QEMU_X86_64 {
            Some("Rosetta runs x86-64".to_owned())
        } else if Path::new(BINFMT_MISC).join(&handler.name).exists() {
            Some("already registered".to_owned())
        } else if !Path::new(&handler.interpreter).exists() {
            Some(format!(
                "{} is missing from the image: rebuild it with qemu-user (vm-image/packages.txt)",
                handler.interpreter
            ))
        } else {
            fs::write(&register, handler.entry())
                .err()
                .map(|err| format!("the kernel refused it: {err}"))
        };
        match why {
            None => registered.push(handler.name),
            Some(why) => skipped.push(format!("{} ({why})", handler.name)),
        }
    }
    let unemulated = registered
        .iter()
        .filter(|name| name.starts_with("unemulated-"));
    let unemulated = unemulated.count();
    registered.retain(|name| !name.starts_with("unemulated-"));
    let mut summary = format!(
        "binfmt: registered {} (and {unemulated} without an emulator)",
        list(&registered)
    );
    if !skipped.is_empty() {
        summary.push_str(&format!("; skipped {}", skipped.join(", ")));
    }
    tracing::info!("{}", summary);
}

/// The handlers of every `*.conf` file in `dir`, in name order (none if it does not exist).
fn read_dir(dir: &str) -> Vec<Result<Handler, (String, ParseError)>> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .map(|dir| dir.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    files.retain(|path| path.extension().is_some_and(|ext| ext == "conf"));
    files.sort();
    let mut handlers = Vec::new();
    for path in files {
        match fs::read_to_string(&path) {
            Ok(text) => handlers.extend(parse_conf(&text)),
            Err(err) => tracing::warn!("binfmt: skipping {}: {err}", path.display()),
        }
    }
    handlers
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AARCH64: &str = r":qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OP";

    #[test]
    fn parses_debians_qemu_entry_and_forces_fix_binary() {
        let handler = Handler::parse(AARCH64).expect("aarch64");
        assert_eq!(handler.name, "qemu-aarch64");
        assert_eq!(
            handler.interpreter,
            "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
        );
        assert_eq!(handler.entry(), format!("{AARCH64}F"));
        let already = Handler::parse(&format!("{AARCH64}F")).expect("with F");
        assert_eq!(already.entry(), format!("{AARCH64}F"), "F only once");
    }

    const X86_64: &str = r":qemu-x86_64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00:\xff\xff\xff\xff\xff\xfe\xfe\xfc\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/libexec/qemu-binfmt/x86_64-binfmt-P:OPF";

    /// An ELF header's first 20 bytes: class, endianness, type 2 (executable), machine.
    fn elf(wide: bool, little: bool, machine: u16) -> Vec<u8> {
        let mut header = b"\x7fELF".to_vec();
        header.extend([if wide { 2 } else { 1 }, if little { 1 } else { 2 }, 1]);
        header.extend([0; 9]);
        let (kind, machine) = if little {
            (2u16.to_le_bytes(), machine.to_le_bytes())
        } else {
            (2u16.to_be_bytes(), machine.to_be_bytes())
        };
        header.extend(kind);
        header.extend(machine);
        header
    }

    #[test]
    fn a_handler_matches_its_architecture_only() {
        let aarch64 = Handler::parse(AARCH64).expect("aarch64");
        let x86_64 = Handler::parse(X86_64).expect("x86_64");
        assert!(aarch64.matches(&elf(true, true, 0xb7)));
        assert!(!aarch64.matches(&elf(true, true, 0x3e)));
        assert!(x86_64.matches(&elf(true, true, 0x3e)));
        assert!(!x86_64.matches(&elf(true, true, 0xb7)));
        assert!(
            !x86_64.matches(b"\x7fELF"),
            "a short header matches nothing"
        );
        let own = fs::read("/proc/self/exe").expect("own binary");
        let native = if cfg!(target_arch = "x86_64") {
            &x86_64
        } else {
            &aarch64
        };
        assert!(
            native.matches(&own),
            "the guard sees the running binary's own handler"
        );
    }

    #[test]
    fn an_unemulated_handler_runs_the_agent_with_the_path() {
        let handler = Handler::parse(AARCH64).expect("aarch64").unemulated();
        assert_eq!(handler.name, "unemulated-aarch64");
        assert!(handler.entry().ends_with(":/usr/lib/berth/unemulated:F"));
        assert!(handler.matches(&elf(true, true, 0xb7)));
    }

    #[test]
    fn names_elf_architectures() {
        assert_eq!(elf_arch(&elf(true, true, 0x08)), "mips64el");
        assert_eq!(elf_arch(&elf(false, false, 0x08)), "mips");
        assert_eq!(elf_arch(&elf(true, false, 0x16)), "s390x");
        assert_eq!(elf_arch(&elf(true, true, 0x102)), "loong64");
        assert_eq!(elf_arch(&elf(true, true, 0x1234)), "ELF machine 0x1234");
        assert_eq!(elf_arch(b"#!/bin/sh\n"), "not an ELF");
    }

    #[test]
    fn explains_an_unemulated_program() {
        let dir = std::env::temp_dir().join(format!("berth-binfmt-{}", std::process::id()));
        fs::write(&dir, elf(true, true, 0x08)).expect("write");
        let path = dir.to_string_lossy().into_owned();
        let message = explain_unemulated(&[UNEMULATED.into(), path.clone()]).expect("explained");
        fs::remove_file(&dir).expect("remove");
        assert!(
            message.starts_with(&format!("berth: {path} is a program for mips64el,")),
            "{message}"
        );
        assert!(
            message.contains("use an image for linux/amd64, linux/arm64"),
            "{message}"
        );
        assert_eq!(explain_unemulated(&["/usr/sbin/init".into()]), None);
    }

    #[test]
    fn keeps_another_separator() {
        let handler = Handler::parse("|py|E||py||/usr/bin/python3|").expect("parsed");
        assert_eq!(handler.entry(), "|py|E||py||/usr/bin/python3|F");
    }

    #[test]
    fn rosettas_entry_parses() {
        let handlers = parse_conf(ROSETTA_ENTRY);
        let handler = handlers[0].as_ref().expect("rosetta");
        assert_eq!(handler.name, "rosetta");
        assert_eq!(handler.interpreter, format!("{ROSETTA_MOUNT}/rosetta"));
        assert!(handler.entry().ends_with(":/run/rosetta/rosetta:CF"));
    }

    #[test]
    fn skips_comments_and_reports_bad_lines_with_the_line() {
        let text = format!(
            "# comment\n; other comment\n\n{AARCH64}\n:x:M::\\x7f:\n:bad/name:M::ab::/bin/x:\n\
             :k:Q::ab::/bin/x:\n:m:M::::/bin/x:\n:i:M::ab::relative:\n:f:M::ab::/bin/x:Z\n"
        );
        let parsed = parse_conf(&text);
        assert!(parsed[0].is_ok(), "{:?}", parsed[0]);
        let errors: Vec<_> = parsed[1..]
            .iter()
            .map(|r| r.clone().expect_err("a bad line"))
            .collect();
        assert_eq!(
            errors,
            [
                (":x:M::\\x7f:".to_owned(), ParseError::Fields(5)),
                (
                    ":bad/name:M::ab::/bin/x:".to_owned(),
                    ParseError::Name("bad/name".into())
                ),
                (":k:Q::ab::/bin/x:".to_owned(), ParseError::Kind("Q".into())),
                (":m:M::::/bin/x:".to_owned(), ParseError::Magic),
                (
                    ":i:M::ab::relative:".to_owned(),
                    ParseError::Interpreter("relative".into())
                ),
                (":f:M::ab::/bin/x:Z".to_owned(), ParseError::Flag('Z')),
            ]
        );
    }
}
