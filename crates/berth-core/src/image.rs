//! The guest image: kernel, stage-1 initramfs and read-only root built by `vm-image/build.sh`,
//! described by `manifest.json`. [`GuestImage::open`] checks the manifest's shape and every
//! artifact's size and sha256, so a corrupt or tampered file is refused before it is booted.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest schema this code reads.
pub const SCHEMA: u32 = 1;

/// Components the manifest must name, with their versions.
pub const REQUIRED_COMPONENTS: &[&str] = &[
    "kernel",
    "docker.io",
    "containerd",
    "runc",
    "crun",
    "berth-agent",
];

/// How the root filesystem is packaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootFormat {
    /// squashfs (lz4) on a read-only virtio disk, under a tmpfs overlay.
    Squashfs,
    /// erofs (lz4hc) on a read-only virtio disk, under a tmpfs overlay.
    Erofs,
    /// The whole root as an uncompressed initramfs (no disk, no stage 1).
    Initramfs,
    /// The whole root as a tar archive, for `wsl --import` (the WSL 2 backend; not bootable by
    /// the other backends).
    Tar,
}

/// What an artifact is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The Linux kernel (`vmlinuz`).
    Kernel,
    /// The stage-1 initramfs.
    Initrd,
    /// The root filesystem image.
    Root,
}

/// One file of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// What the file is for.
    pub role: Role,
    /// File name inside the image directory.
    pub file: String,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// `manifest.json`, as written by `vm-image/build.sh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest schema version, [`SCHEMA`].
    pub schema: u32,
    /// sha256 over the recipe files; the cache key of the base root.
    pub recipe_hash: String,
    /// Debian suite the root was built from.
    pub suite: String,
    /// Debian architecture.
    pub arch: String,
    /// How the root is packaged.
    pub root_format: RootFormat,
    /// Timestamp every file in the image carries.
    pub source_date_epoch: u64,
    /// When the newest of the Debian suites the root was built from (the release, its updates
    /// and its security fixes) was published, in Unix seconds; none for older images.
    #[serde(default)]
    pub packages_date: Option<u64>,
    /// Component → version (kernel, engine, runtimes, agent).
    pub components: BTreeMap<String, String>,
    /// sha256 of the agent binary installed as `/sbin/init`.
    pub agent_sha256: String,
    /// The files, each with its checksum.
    pub artifacts: Vec<Artifact>,
}

/// Why an image cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The manifest could not be read.
    #[error("cannot read {path}: {source}; build the image with vm-image/build.sh")]
    Read {
        /// The manifest path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is not valid JSON of the expected shape.
    #[error("{path} is not a valid image manifest: {source}")]
    Parse {
        /// The manifest path.
        path: PathBuf,
        /// The JSON error, naming the field.
        source: serde_json::Error,
    },
    /// The manifest parses but breaks a rule.
    #[error("invalid image manifest: {0}")]
    Invalid(String),
    /// An artifact is missing, truncated or does not match its checksum.
    #[error(
        "{file} does not match the manifest ({what}); rebuild the image with vm-image/build.sh"
    )]
    Mismatch {
        /// The artifact's path.
        file: PathBuf,
        /// What differs.
        what: String,
    },
}

impl Manifest {
    /// Checks the rules serde cannot: schema, one artifact per role, plain file names,
    /// well-formed checksums, required components.
    pub fn validate(&self) -> Result<(), ImageError> {
        let invalid = |msg: String| Err(ImageError::Invalid(msg));
        if self.schema != SCHEMA {
            return invalid(format!(
                "schema {} (this Berth reads {SCHEMA})",
                self.schema
            ));
        }
        if !is_sha256(&self.recipe_hash) || !is_sha256(&self.agent_sha256) {
            return invalid("recipe_hash and agent_sha256 must be sha256 hex".into());
        }
        for role in [Role::Kernel, Role::Initrd, Role::Root] {
            let count = self.artifacts.iter().filter(|a| a.role == role).count();
            if count != 1 {
                return invalid(format!("{count} artifacts with role {role:?}, expected 1"));
            }
        }
        for a in &self.artifacts {
            let plain = !a.file.is_empty()
                && !a.file.contains('/')
                && a.file != "."
                && a.file != ".."
                && a.file != "manifest.json";
            if !plain {
                return invalid(format!(
                    "artifact file name {:?} is not a plain file name",
                    a.file
                ));
            }
            if !is_sha256(&a.sha256) {
                return invalid(format!("artifact {} has a malformed sha256", a.file));
            }
        }
        for name in REQUIRED_COMPONENTS {
            if self
                .components
                .get(*name)
                .is_none_or(|v| v.trim().is_empty())
            {
                return invalid(format!("component {name} has no version"));
            }
        }
        Ok(())
    }

    /// The artifact with `role` (present after [`Manifest::validate`]).
    pub fn artifact(&self, role: Role) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.role == role)
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A verified guest image.
#[derive(Debug, Clone)]
pub struct GuestImage {
    /// The image directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl GuestImage {
    /// Reads and validates `dir/manifest.json` and verifies every artifact's size and sha256.
    /// This reads the whole image (~200 MB): call it off async workers.
    pub fn open(dir: &Path) -> Result<GuestImage, ImageError> {
        let manifest = Self::read_manifest(dir)?;
        for artifact in &manifest.artifacts {
            verify_artifact(&dir.join(&artifact.file), artifact)?;
        }
        Ok(GuestImage {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// Reads and validates the manifest only.
    pub fn read_manifest(dir: &Path) -> Result<Manifest, ImageError> {
        let path = dir.join("manifest.json");
        let text = std::fs::read(&path).map_err(|source| ImageError::Read {
            path: path.clone(),
            source,
        })?;
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|source| ImageError::Parse { path, source })?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The path of the artifact with `role`.
    pub fn path(&self, role: Role) -> PathBuf {
        let file = self
            .manifest
            .artifact(role)
            .map(|a| a.file.as_str())
            .unwrap_or_default();
        self.dir.join(file)
    }
}

/// Checks one file against its manifest entry.
fn verify_artifact(path: &Path, artifact: &Artifact) -> Result<(), ImageError> {
    let mismatch = |what: String| ImageError::Mismatch {
        file: path.to_path_buf(),
        what,
    };
    let mut file = File::open(path).map_err(|e| mismatch(format!("cannot open: {e}")))?;
    let size = file
        .metadata()
        .map_err(|e| mismatch(format!("cannot stat: {e}")))?
        .len();
    if size != artifact.size {
        return Err(mismatch(format!(
            "size {size}, manifest says {}",
            artifact.size
        )));
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| mismatch(format!("read error: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let actual = hex::encode(hasher.finalize());
    if actual != artifact.sha256 {
        return Err(mismatch(format!(
            "sha256 {actual}, manifest says {}",
            artifact.sha256
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    /// Writes a small valid image into a temp dir.
    fn sample() -> (tempfile::TempDir, Manifest) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut artifacts = Vec::new();
        for (role, file, data) in [
            (Role::Kernel, "vmlinuz", &b"kernel"[..]),
            (Role::Initrd, "initrd.img", b"initrd"),
            (Role::Root, "root.squashfs", b"root"),
        ] {
            std::fs::write(dir.path().join(file), data).expect("write");
            artifacts.push(Artifact {
                role,
                file: file.into(),
                sha256: sha(data),
                size: data.len() as u64,
            });
        }
        let components = REQUIRED_COMPONENTS
            .iter()
            .map(|c| (c.to_string(), "1".into()))
            .collect();
        let manifest = Manifest {
            schema: SCHEMA,
            recipe_hash: sha(b"recipe"),
            suite: "trixie".into(),
            arch: "amd64".into(),
            root_format: RootFormat::Squashfs,
            source_date_epoch: 0,
            packages_date: None,
            components,
            agent_sha256: sha(b"agent"),
            artifacts,
        };
        write(&dir, &manifest);
        (dir, manifest)
    }

    fn write(dir: &tempfile::TempDir, manifest: &Manifest) {
        let json = serde_json::to_vec(manifest).expect("json");
        std::fs::write(dir.path().join("manifest.json"), json).expect("write");
    }

    #[test]
    fn a_consistent_image_opens() {
        let (dir, manifest) = sample();
        let image = GuestImage::open(dir.path()).expect("opens");
        assert_eq!(image.manifest, manifest);
        assert_eq!(image.path(Role::Root), dir.path().join("root.squashfs"));
    }

    #[test]
    fn a_flipped_byte_is_refused() {
        let (dir, _) = sample();
        std::fs::write(dir.path().join("root.squashfs"), b"rooT").expect("write");
        let err = GuestImage::open(dir.path()).expect_err("corrupt");
        assert!(matches!(err, ImageError::Mismatch { .. }), "{err}");
        assert!(err.to_string().contains("sha256"));
    }

    #[test]
    fn a_truncated_or_missing_artifact_is_refused() {
        let (dir, _) = sample();
        std::fs::write(dir.path().join("vmlinuz"), b"ker").expect("write");
        assert!(GuestImage::open(dir.path())
            .expect_err("short")
            .to_string()
            .contains("size"));
        std::fs::remove_file(dir.path().join("vmlinuz")).expect("rm");
        assert!(GuestImage::open(dir.path())
            .expect_err("gone")
            .to_string()
            .contains("open"));
    }

    #[test]
    fn manifest_rules() {
        let (dir, good) = sample();
        let mut bad = good.clone();
        bad.artifacts[2].file = "../etc/passwd".into();
        write(&dir, &bad);
        assert!(GuestImage::open(dir.path()).is_err());

        let mut bad = good.clone();
        bad.artifacts.pop();
        assert!(bad
            .validate()
            .expect_err("no root")
            .to_string()
            .contains("Root"));

        let mut bad = good.clone();
        bad.components.remove("runc");
        assert!(bad
            .validate()
            .expect_err("no runc")
            .to_string()
            .contains("runc"));

        let mut bad = good;
        bad.schema = 2;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn unknown_fields_and_garbage_are_parse_errors() {
        let (dir, _) = sample();
        let path = dir.path().join("manifest.json");
        let mut value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        value["surprise"] = serde_json::json!(1);
        std::fs::write(&path, value.to_string()).expect("write");
        let err = GuestImage::open(dir.path()).expect_err("unknown field");
        assert!(err.to_string().contains("surprise"), "{err}");
        std::fs::write(&path, b"\xff\x00not json").expect("write");
        assert!(matches!(
            GuestImage::open(dir.path()),
            Err(ImageError::Parse { .. })
        ));
    }
}
