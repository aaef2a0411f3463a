//! The stand-in `wsl.exe` itself: what this test binary does when it runs as `wsl`
//! (see the test's own documentation for what it imitates and what it cannot).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One imported distribution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Distro {
    pub dir: PathBuf,
    pub running: bool,
    /// Bumped by `--terminate`: processes started before it end.
    pub session: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Registry {
    pub distros: BTreeMap<String, Distro>,
}

fn registry_file(exe: &Path) -> PathBuf {
    exe.with_file_name("registry.json")
}

/// The registry as the stand-in keeps it (also read by the tests).
pub fn load(exe: &Path) -> Registry {
    for _ in 0..50 {
        match std::fs::read(registry_file(exe)) {
            Ok(bytes) => {
                if let Ok(registry) = serde_json::from_slice(&bytes) {
                    return registry;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Registry::default(),
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Registry::default()
}

/// Replaces the registry atomically. Under Wine a rename over a file another stand-in is
/// reading at that moment fails, so it is tried again; a registry that cannot be saved is
/// the stand-in's failure, never a silent loss.
fn save(exe: &Path, registry: &Registry) {
    let tmp = exe.with_file_name(format!("registry.{}.tmp", std::process::id()));
    let json = serde_json::to_vec_pretty(registry).unwrap_or_default();
    for _ in 0..500 {
        if std::fs::write(&tmp, &json).is_ok() && std::fs::rename(&tmp, registry_file(exe)).is_ok()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("stand-in: cannot save {}", registry_file(exe).display());
    std::process::exit(70);
}

fn find<'a>(registry: &'a mut Registry, name: &str) -> Option<(String, &'a mut Distro)> {
    registry
        .distros
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, d)| (n.clone(), d))
}

/// `wsl.exe`'s own output: UTF-16LE.
fn wsl_print(text: &str) {
    use std::io::Write;
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&bytes);
    let _ = out.flush();
}

const NO_DISTRO: &str = "There is no distribution with the supplied name.\r\nError code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\r\n";

pub fn run(exe: &Path, args: &[String]) -> u8 {
    if let Ok(mut log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(exe.with_file_name("calls.log"))
    {
        use std::io::Write;
        let _ = writeln!(log, "{}", serde_json::to_string(args).unwrap_or_default());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["--version"] => {
            if exe.with_file_name("inbox").exists() {
                wsl_print("Invalid command line option: --version\r\nUsage: wsl.exe [Argument] [Options...] [CommandLine]\r\n");
                return 1;
            }
            wsl_print("WSL version: 2.3.26.0\r\nKernel version: 5.15.167.4-1\r\nWSLg version: 1.0.65\r\nWindows version: 10.0.22631.4460\r\n");
            0
        }
        ["--list", "--verbose"] => {
            let registry = load(exe);
            if registry.distros.is_empty() {
                wsl_print("Windows Subsystem for Linux has no installed distributions.\r\nYou can resolve this by installing a distribution with the instructions below:\r\n\r\nUse 'wsl.exe --list --online' to list available distributions\r\nand 'wsl.exe --install <Distro>' to install.\r\n");
                return 255;
            }
            let mut text = String::from("  NAME            STATE           VERSION\r\n");
            for (name, d) in &registry.distros {
                let state = if d.running { "Running" } else { "Stopped" };
                text.push_str(&format!("  {name:<15} {state:<15} 2\r\n"));
            }
            wsl_print(&text);
            0
        }
        ["--import", name, dir, tar, "--version", "2"] => import(exe, name, dir, tar),
        ["--unregister", name] => {
            let mut registry = load(exe);
            let Some((name, d)) = find(&mut registry, name) else {
                wsl_print(NO_DISTRO);
                return 1;
            };
            let _ = std::fs::remove_file(d.dir.join("ext4.vhdx"));
            registry.distros.remove(&name);
            save(exe, &registry);
            wsl_print("Unregistering.\r\nThe operation completed successfully.\r\n");
            0
        }
        ["--terminate", name] => {
            let mut registry = load(exe);
            let Some((_, d)) = find(&mut registry, name) else {
                wsl_print(NO_DISTRO);
                return 1;
            };
            d.running = false;
            d.session += 1;
            save(exe, &registry);
            wsl_print("The operation completed successfully.\r\n");
            0
        }
        ["--distribution", name, "--user", "root", "--cd", "/", "--exec", "/usr/sbin/init", agent @ ..] => {
            exec(exe, name, agent)
        }
        _ => {
            wsl_print(&format!(
                "Invalid command line option: {}\r\n",
                args.join(" ")
            ));
            1
        }
    }
}

fn import(exe: &Path, name: &str, dir: &str, tar: &str) -> u8 {
    if exe.with_file_name("no-virtualization").exists() {
        wsl_print("Please enable the Virtual Machine Platform Windows feature and ensure virtualization is enabled in the BIOS.\r\nFor information please visit https://aka.ms/enablevirtualization\r\nError code: Wsl/Service/RegisterDistro/CreateVm/HCS/HCS_E_HYPERV_NOT_INSTALLED\r\n");
        return 1;
    }
    let mut registry = load(exe);
    if find(&mut registry, name).is_some() {
        wsl_print("A distribution with the supplied name already exists.\r\nError code: Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS\r\n");
        return 1;
    }
    let Some(agent) = agent_of(Path::new(tar)) else {
        wsl_print("The specified file is not a valid tar archive.\r\nError code: Wsl/Service/RegisterDistro/WSL_E_IMPORT_FAILED\r\n");
        return 1;
    };
    let dir = PathBuf::from(dir);
    if std::fs::create_dir_all(&dir).is_err()
        || std::fs::write(dir.join("ext4.vhdx"), agent).is_err()
    {
        wsl_print("The system cannot find the path specified.\r\n");
        return 1;
    }
    registry.distros.insert(
        name.to_owned(),
        Distro {
            dir,
            running: false,
            session: 0,
        },
    );
    save(exe, &registry);
    wsl_print("Import in progress, this may take a few minutes.\r\nThe operation completed successfully.\r\n");
    0
}

/// The root's `/usr/sbin/init`: what the stand-in "boots".
fn agent_of(tar: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut archive = tar::Archive::new(std::fs::File::open(tar).ok()?);
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let path = entry.path().ok()?.to_string_lossy().into_owned();
        if path.trim_start_matches("./") == "usr/sbin/init" {
            let mut agent = Vec::new();
            entry.read_to_end(&mut agent).ok()?;
            return Some(agent);
        }
    }
    None
}

fn exec(exe: &Path, name: &str, agent: &[&str]) -> u8 {
    let mut registry = load(exe);
    let Some((name, d)) = find(&mut registry, name) else {
        wsl_print(NO_DISTRO);
        return 1;
    };
    d.running = true;
    let session = d.session;
    let root = std::fs::read(d.dir.join("ext4.vhdx")).unwrap_or_default();
    save(exe, &registry);
    match agent {
        ["--wsl-data", dir] => {
            println!("berth-agent: data: sharing /var/lib/berth (stand-in)");
            println!("{}", berth_protocol::boot::data_ready_line(dir));
            // The real data agent leaves when its standard input closes.
            std::thread::spawn(|| {
                use std::io::Read;
                let mut sink = [0u8; 64];
                while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
                std::process::exit(0);
            });
        }
        ["--wsl", rest @ ..] => {
            println!("berth-agent: stand-in agent in {name}: {}", rest.join(" "));
            // As the real agent (`berth.secret=stdin`): the boot channel on standard input.
            let mut text = String::new();
            let mut line = String::new();
            while !berth_protocol::auth::BootChannel::is_complete(&text)
                && matches!(std::io::stdin().read_line(&mut line), Ok(n) if n > 0)
            {
                text.push_str(&line);
                line.clear();
            }
            match berth_protocol::auth::BootChannel::parse(&text) {
                Ok(channel) => println!(
                    "berth-agent: stand-in boot channel: {}",
                    channel.params.join(" ")
                ),
                Err(err) => {
                    println!("berth-agent: stand-in boot channel: {err}");
                    return 4;
                }
            }
            if root.starts_with(b"fail") {
                println!("berth-agent: cannot start the engine: stand-in failure");
                eprintln!("stand-in: the agent in {name} exits");
                return 3;
            }
            let ready = berth_protocol::boot::ReadyLine {
                version: "0.0.0-stand-in".into(),
                protocol: berth_protocol::PROTOCOL_VERSION,
                uptime_ms: 1234,
                agent_ms: 56,
            };
            println!("{ready}");
        }
        _ => {
            eprintln!("stand-in: unexpected agent arguments {agent:?}");
            return 2;
        }
    }
    // Until `wsl --terminate` (or an unregister) ends the distribution's processes.
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let mut registry = load(exe);
        match find(&mut registry, &name) {
            Some((_, d)) if d.running && d.session == session => {}
            _ => return 1,
        }
    }
}
