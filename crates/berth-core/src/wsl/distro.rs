//! Which WSL distributions Berth keeps, and what a start imports, boots and unregisters. All of
//! it is decided here, from plain data (the state file, `wsl --list --verbose`, the install
//! directory's contents, the image id), so every case is a unit test.
//!
//! Two kinds of distribution:
//!
//! - **The data distribution** ([`DATA_DISTRIBUTION`]), imported once from a tiny root the host
//!   writes ([`super::data_root`]). Its own filesystem holds the engine's images, containers and
//!   volumes; its agent shares it with the system distribution through WSL's cross-distribution
//!   mount (`/mnt/wsl/berth/data`). Berth never replaces it.
//! - **System distributions** (`berth-` and 12 hex digits of the image's root checksum, see
//!   [`system_name`]), one per image: the guest image's root, whose agent runs the engine on the
//!   data distribution's share. A new image is imported beside the one running; once it is
//!   ready, the one before the previous is unregistered, so the previous one stays for a
//!   rollback. If the new one does not boot, the current one boots instead.
//!
//! The state file ([`STATE_FILE`], in the install directory) records which distributions Berth
//! created and which are current and previous. Berth only ever unregisters or boots a
//! distribution it created: one with a Berth name that is neither recorded nor has its virtual
//! disk in Berth's install directory was made by someone else, and a start refuses to touch it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::command::Distribution;

/// The data distribution's name.
pub const DATA_DISTRIBUTION: &str = "berth-data";

/// The prefix of system distributions' names.
pub const SYSTEM_PREFIX: &str = "berth-";

/// Hex digits of the image id in a system distribution's name.
pub const ID_DIGITS: usize = 12;

/// The state file, in the install directory.
pub const STATE_FILE: &str = "distributions.json";

/// The state file's schema.
pub const STATE_VERSION: u32 = 1;

/// The virtual disk `wsl --import` writes in a distribution's directory.
pub const VHDX: &str = "ext4.vhdx";

/// The system distribution of an image whose root checksum is `image_id` (lower-case hex):
/// `berth-` and its first 12 digits. `None` for an id that is not hex or too short.
pub fn system_name(image_id: &str) -> Option<String> {
    let digits = image_id.get(..ID_DIGITS)?;
    digits
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| format!("{SYSTEM_PREFIX}{}", digits.to_ascii_lowercase()))
}

/// Whether `name` is a system distribution's name (`berth-` and 12 lower-case hex digits).
pub fn is_system_name(name: &str) -> bool {
    name.strip_prefix(SYSTEM_PREFIX).is_some_and(|id| {
        id.len() == ID_DIGITS
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A system distribution and the image it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// Its name ([`system_name`]).
    pub name: String,
    /// The sha256 of the root tarball it was imported from.
    pub image: String,
}

/// What Berth has imported (`distributions.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Every distribution Berth imported (or began to), data distribution included, until it
    /// unregisters it.
    pub owned: Vec<String>,
    /// The system distribution that last became ready.
    pub current: Option<Installed>,
    /// The one before it, kept for a rollback.
    pub previous: Option<Installed>,
}

impl Default for State {
    fn default() -> State {
        State {
            version: STATE_VERSION,
            owned: Vec::new(),
            current: None,
            previous: None,
        }
    }
}

/// Why the state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Not readable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not Berth's JSON, or another schema.
    #[error("{path} is not a state file this Berth reads ({why}); move it away and start again: Berth then recognises its distributions by their disks in {dir}")]
    Invalid {
        /// The file.
        path: String,
        /// The install directory.
        dir: String,
        /// What is wrong.
        why: String,
    },
    /// Not writable.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl State {
    /// Whether Berth created `name`.
    pub fn owns(&self, name: &str) -> bool {
        self.owned.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Records `name` as Berth's (before importing it, so a crash in the middle is not
    /// mistaken for someone else's distribution).
    pub fn adopt(&mut self, name: &str) {
        if !self.owns(name) {
            self.owned.push(name.to_owned());
        }
    }

    /// Parses the state file's text.
    pub fn parse(text: &str) -> Result<State, String> {
        let state: State = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if state.version != STATE_VERSION {
            return Err(format!(
                "schema {} (this Berth reads {STATE_VERSION})",
                state.version
            ));
        }
        Ok(state)
    }

    /// Reads `install_dir/distributions.json`; none yet is the empty state.
    pub fn load(install_dir: &Path) -> Result<State, StateError> {
        let path = install_dir.join(STATE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => State::parse(&text).map_err(|why| StateError::Invalid {
                path: path.display().to_string(),
                dir: install_dir.display().to_string(),
                why,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(source) => Err(StateError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes the state file atomically (a temporary file renamed over it).
    pub fn save(&self, install_dir: &Path) -> Result<(), StateError> {
        let path = install_dir.join(STATE_FILE);
        let tmp = install_dir.join(format!("{STATE_FILE}.tmp"));
        let write = |source| StateError::Write {
            path: path.display().to_string(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| write(e.into()))?;
        std::fs::create_dir_all(install_dir).map_err(write)?;
        std::fs::write(&tmp, json).map_err(write)?;
        std::fs::rename(&tmp, &path).map_err(write)
    }
}

/// The names in `install_dir` whose directory holds a WSL virtual disk: distributions Berth
/// imported there (the evidence when the state file lost track of one).
pub fn disks_in(install_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(install_dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join(VHDX).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Why the data distribution is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataImport {
    /// Berth never had one.
    First,
    /// Berth had one and it is gone (unregistered outside Berth): the engine starts empty.
    Lost,
}

/// Why a system distribution is imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemImport {
    /// No system distribution yet.
    First,
    /// The image changed; this one is current until the new one is ready.
    Update {
        /// The current distribution.
        from: String,
    },
    /// The image's distribution was unregistered outside Berth.
    Lost,
    /// WSL lists it, unfinished (an import that was interrupted): it is unregistered first.
    Unfinished,
}

/// What a start does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Import the data distribution first.
    pub import_data: Option<DataImport>,
    /// The system distribution to boot.
    pub system: String,
    /// Import it first (and why).
    pub import_system: Option<SystemImport>,
    /// Boot this one instead if `system` does not become ready: the current distribution,
    /// when `system` is a new one.
    pub fallback: Option<String>,
}

impl Plan {
    /// What the user should be told before the start (a distribution removed behind Berth's
    /// back), if anything.
    pub fn notices(&self) -> Vec<String> {
        let mut notices = Vec::new();
        if self.import_data == Some(DataImport::Lost) {
            notices.push(format!(
                "the data distribution {DATA_DISTRIBUTION} was unregistered outside Berth: importing an empty one (the images and volumes it held are gone)"
            ));
        }
        if self.import_system == Some(SystemImport::Lost) {
            notices.push(format!(
                "the system distribution {} was unregistered outside Berth: importing it again{}",
                self.system,
                if self.import_data.is_none() {
                    format!(" (images and volumes are in {DATA_DISTRIBUTION}, intact)")
                } else {
                    String::new()
                }
            ));
        }
        notices
    }
}

/// Why a start cannot go ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A distribution with one of Berth's names that Berth did not create.
    #[error("a WSL distribution named {0} exists that Berth did not create; Berth leaves it alone. Rename it (wsl --export {0} FILE.tar, wsl --unregister {0}, wsl --import ANOTHER-NAME DIR FILE.tar) or, if it is not needed, remove it (wsl --unregister {0}), then start Berth again")]
    Foreign(String),
    /// The image id cannot name a distribution.
    #[error("the image's root checksum {0:?} is not a sha256")]
    BadImageId(String),
}

fn find<'a>(listed: &'a [Distribution], name: &str) -> Option<&'a Distribution> {
    listed.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// Whether WSL is still importing (or never finished importing) `d`. WSL localizes the state,
/// so only its English name is recognised; elsewhere an unfinished import fails to boot and the
/// next start imports it again.
fn unfinished(d: &Distribution) -> bool {
    d.state.eq_ignore_ascii_case("Installing") || d.state.eq_ignore_ascii_case("Uninstalling")
}

/// The plan for booting the image `image_id`, from the state file, WSL's list and the virtual
/// disks in the install directory (`disks`, see [`disks_in`]).
pub fn plan(
    state: &State,
    listed: &[Distribution],
    disks: &[String],
    image_id: &str,
) -> Result<Plan, PlanError> {
    let system = system_name(image_id).ok_or_else(|| PlanError::BadImageId(image_id.into()))?;
    let ours = |name: &str| state.owns(name) || disks.iter().any(|d| d.eq_ignore_ascii_case(name));
    for name in [DATA_DISTRIBUTION, system.as_str()] {
        if find(listed, name).is_some() && !ours(name) {
            return Err(PlanError::Foreign(name.to_owned()));
        }
    }
    let import_data = match find(listed, DATA_DISTRIBUTION) {
        Some(_) => None,
        None if state.owns(DATA_DISTRIBUTION) => Some(DataImport::Lost),
        None => Some(DataImport::First),
    };
    let current = state.current.as_ref().map(|c| c.name.as_str());
    let import_system = match find(listed, &system) {
        Some(d) if unfinished(d) => Some(SystemImport::Unfinished),
        Some(_) => None,
        None if current.is_some_and(|c| c.eq_ignore_ascii_case(&system)) => {
            Some(SystemImport::Lost)
        }
        None => match current.filter(|c| find(listed, c).is_some()) {
            Some(from) => Some(SystemImport::Update { from: from.into() }),
            None => Some(SystemImport::First),
        },
    };
    let fallback = current
        .filter(|c| !c.eq_ignore_ascii_case(&system))
        .filter(|c| find(listed, c).is_some_and(|d| !unfinished(d)) && ours(c))
        .map(str::to_owned);
    Ok(Plan {
        import_data,
        system,
        import_system,
        fallback,
    })
}

/// After `booted` became ready: the new state, and the system distributions to unregister
/// (Berth's own, listed, neither current nor previous — the one before the previous, a failed
/// new one after a rollback, leftovers).
pub fn after_boot(
    state: &State,
    booted: &Installed,
    listed: &[Distribution],
) -> (State, Vec<String>) {
    let same = |a: &Installed| a.name.eq_ignore_ascii_case(&booted.name);
    let previous = match &state.current {
        Some(current) if !same(current) => Some(current.clone()),
        _ => state.previous.clone().filter(|p| !same(p)),
    }
    .filter(|p| find(listed, &p.name).is_some());
    let keep = |name: &str| {
        name.eq_ignore_ascii_case(DATA_DISTRIBUTION)
            || name.eq_ignore_ascii_case(&booted.name)
            || previous
                .as_ref()
                .is_some_and(|p| p.name.eq_ignore_ascii_case(name))
    };
    let unregister: Vec<String> = state
        .owned
        .iter()
        .filter(|name| !keep(name) && is_system_name(&name.to_ascii_lowercase()))
        .filter(|name| find(listed, name).is_some())
        .cloned()
        .collect();
    let mut next = State {
        version: STATE_VERSION,
        owned: state
            .owned
            .iter()
            .filter(|name| keep(name) || unregister.contains(name))
            .cloned()
            .collect(),
        current: Some(booted.clone()),
        previous,
    };
    next.adopt(&booted.name);
    (next, unregister)
}

/// `name` unregistered: no longer Berth's.
pub fn forget(state: &mut State, name: &str) {
    state.owned.retain(|n| !n.eq_ignore_ascii_case(name));
    if state
        .previous
        .as_ref()
        .is_some_and(|p| p.name.eq_ignore_ascii_case(name))
    {
        state.previous = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaa11112222333344445555666677778888999900001111222233a";
    const B: &str = "bbbbbbbbbbbb11112222333344445555666677778888999900001111222233b";
    const C: &str = "cccccccccccc11112222333344445555666677778888999900001111222233c";

    fn row(name: &str) -> Distribution {
        Distribution {
            name: name.into(),
            state: "Stopped".into(),
            version: 2,
            default: false,
        }
    }

    fn installed(id: &str) -> Installed {
        Installed {
            name: system_name(id).expect("hex"),
            image: id.into(),
        }
    }

    fn state(owned: &[&str], current: Option<&str>, previous: Option<&str>) -> State {
        State {
            owned: owned.iter().map(|s| (*s).to_owned()).collect(),
            current: current.map(installed),
            previous: previous.map(installed),
            ..State::default()
        }
    }

    #[test]
    fn system_distributions_are_named_by_their_image() {
        assert_eq!(system_name(A).as_deref(), Some("berth-aaaaaaaaaaaa"));
        assert_eq!(
            system_name("ABCDEF0123456789").as_deref(),
            Some("berth-abcdef012345")
        );
        assert_eq!(system_name("abc"), None);
        assert_eq!(system_name("zzzzzzzzzzzzzzzz"), None);
        assert_eq!(system_name("ééééééééééééé"), None);
        assert!(is_system_name("berth-aaaaaaaaaaaa"));
        assert!(!is_system_name(DATA_DISTRIBUTION));
        assert!(!is_system_name("berth"));
        assert!(!is_system_name("berth-aaaaaaaaaaaaa"));
        assert!(!is_system_name("berth-mydistro1234"));
    }

    #[test]
    fn the_first_start_imports_both() {
        let plan = plan(&State::default(), &[row("Ubuntu")], &[], A).expect("plan");
        assert_eq!(
            plan,
            Plan {
                import_data: Some(DataImport::First),
                system: "berth-aaaaaaaaaaaa".into(),
                import_system: Some(SystemImport::First),
                fallback: None,
            }
        );
        assert!(plan.notices().is_empty());
    }

    #[test]
    fn a_second_start_imports_nothing() {
        let s = state(&[DATA_DISTRIBUTION, "berth-aaaaaaaaaaaa"], Some(A), None);
        let listed = [row(DATA_DISTRIBUTION), row("berth-aaaaaaaaaaaa")];
        let plan = plan(&s, &listed, &[], A).expect("plan");
        assert_eq!(plan.import_data, None);
        assert_eq!(plan.import_system, None);
        assert_eq!(plan.fallback, None);
        // WSL compares names without case.
        let listed = [row("Berth-Data"), row("BERTH-aaaaaaaaaaaa")];
        assert_eq!(
            super::plan(&s, &listed, &[], A)
                .expect("plan")
                .import_system,
            None
        );
    }

    #[test]
    fn a_new_image_is_imported_beside_the_current_one_which_is_the_fallback() {
        let s = state(&[DATA_DISTRIBUTION, "berth-aaaaaaaaaaaa"], Some(A), None);
        let listed = [row(DATA_DISTRIBUTION), row("berth-aaaaaaaaaaaa")];
        let plan = plan(&s, &listed, &[], B).expect("plan");
        assert_eq!(plan.import_data, None);
        assert_eq!(plan.system, "berth-bbbbbbbbbbbb");
        assert_eq!(
            plan.import_system,
            Some(SystemImport::Update {
                from: "berth-aaaaaaaaaaaa".into()
            })
        );
        assert_eq!(plan.fallback.as_deref(), Some("berth-aaaaaaaaaaaa"));
    }

    #[test]
    fn going_back_to_the_previous_image_boots_it_without_an_import() {
        let s = state(
            &[
                DATA_DISTRIBUTION,
                "berth-aaaaaaaaaaaa",
                "berth-bbbbbbbbbbbb",
            ],
            Some(B),
            Some(A),
        );
        let listed = [
            row(DATA_DISTRIBUTION),
            row("berth-aaaaaaaaaaaa"),
            row("berth-bbbbbbbbbbbb"),
        ];
        let plan = plan(&s, &listed, &[], A).expect("plan");
        assert_eq!(plan.import_system, None);
        assert_eq!(plan.fallback.as_deref(), Some("berth-bbbbbbbbbbbb"));
    }

    #[test]
    fn distributions_removed_behind_berths_back_are_imported_again_and_said() {
        let s = state(&[DATA_DISTRIBUTION, "berth-aaaaaaaaaaaa"], Some(A), None);
        // Only the system distribution went: the data is intact.
        let plan1 = plan(&s, &[row(DATA_DISTRIBUTION)], &[], A).expect("plan");
        assert_eq!(plan1.import_data, None);
        assert_eq!(plan1.import_system, Some(SystemImport::Lost));
        assert_eq!(plan1.fallback, None);
        let notices = plan1.notices();
        assert_eq!(notices.len(), 1);
        assert!(notices[0].contains("berth-aaaaaaaaaaaa"), "{notices:?}");
        assert!(notices[0].contains("intact"), "{notices:?}");
        // Only the data distribution went: the engine starts empty, and says so.
        let plan2 = plan(&s, &[row("berth-aaaaaaaaaaaa")], &[], A).expect("plan");
        assert_eq!(plan2.import_data, Some(DataImport::Lost));
        assert_eq!(plan2.import_system, None);
        assert!(plan2.notices()[0].contains("gone"), "{:?}", plan2.notices());
        // Both.
        let plan3 = plan(&s, &[], &[], A).expect("plan");
        assert_eq!(plan3.import_data, Some(DataImport::Lost));
        assert_eq!(plan3.import_system, Some(SystemImport::Lost));
        assert!(!plan3.notices()[1].contains("intact"));
        // The current one gone while a new image arrives: a plain first import, no fallback.
        let plan4 = plan(&s, &[row(DATA_DISTRIBUTION)], &[], B).expect("plan");
        assert_eq!(plan4.import_system, Some(SystemImport::First));
        assert_eq!(plan4.fallback, None);
    }

    #[test]
    fn a_distribution_named_like_berths_that_berth_did_not_create_is_left_alone() {
        let err = plan(&State::default(), &[row("berth-data")], &[], A).expect_err("foreign");
        assert_eq!(err, PlanError::Foreign("berth-data".into()));
        assert!(
            err.to_string().contains("wsl --unregister berth-data"),
            "{err}"
        );
        let err =
            plan(&State::default(), &[row("berth-aaaaaaaaaaaa")], &[], A).expect_err("foreign");
        assert_eq!(err, PlanError::Foreign("berth-aaaaaaaaaaaa".into()));
        // Berth's own disk in its install directory is proof enough (a state file lost).
        let disks = ["berth-data".to_owned(), "berth-aaaaaaaaaaaa".to_owned()];
        let plan = plan(
            &State::default(),
            &[row("berth-data"), row("berth-aaaaaaaaaaaa")],
            &disks,
            A,
        )
        .expect("ours");
        assert_eq!((plan.import_data, plan.import_system), (None, None));
        // Someone else's `berth` or `berth-dev` is none of Berth's business.
        let plan = super::plan(&State::default(), &[row("berth"), row("berth-dev")], &[], A)
            .expect("plan");
        assert_eq!(plan.import_data, Some(DataImport::First));
    }

    #[test]
    fn an_unfinished_import_is_done_again_and_never_a_fallback() {
        let s = state(
            &[
                DATA_DISTRIBUTION,
                "berth-aaaaaaaaaaaa",
                "berth-bbbbbbbbbbbb",
            ],
            Some(A),
            None,
        );
        let mut half = row("berth-bbbbbbbbbbbb");
        half.state = "Installing".into();
        let listed = [
            row(DATA_DISTRIBUTION),
            row("berth-aaaaaaaaaaaa"),
            half.clone(),
        ];
        let p = plan(&s, &listed, &[], B).expect("plan");
        assert_eq!(p.import_system, Some(SystemImport::Unfinished));
        assert_eq!(p.fallback.as_deref(), Some("berth-aaaaaaaaaaaa"));
        let s = state(&[DATA_DISTRIBUTION, "berth-bbbbbbbbbbbb"], Some(B), None);
        let p = plan(&s, &[row(DATA_DISTRIBUTION), half], &[], A).expect("plan");
        assert_eq!(p.fallback, None);
    }

    #[test]
    fn a_bad_image_id_names_no_distribution() {
        assert_eq!(
            plan(&State::default(), &[], &[], "xyz"),
            Err(PlanError::BadImageId("xyz".into()))
        );
    }

    #[test]
    fn after_an_update_the_previous_stays_and_the_one_before_goes() {
        let all = [
            row(DATA_DISTRIBUTION),
            row("berth-aaaaaaaaaaaa"),
            row("berth-bbbbbbbbbbbb"),
            row("berth-cccccccccccc"),
        ];
        // First boot.
        let (s1, gone) = after_boot(
            &state(&[DATA_DISTRIBUTION], None, None),
            &installed(A),
            &all,
        );
        assert!(gone.is_empty());
        assert_eq!(s1.current, Some(installed(A)));
        assert_eq!(s1.previous, None);
        assert!(s1.owns("berth-aaaaaaaaaaaa") && s1.owns(DATA_DISTRIBUTION));
        // A → B: A is kept.
        let mut s = s1.clone();
        s.adopt("berth-bbbbbbbbbbbb");
        let (s2, gone) = after_boot(&s, &installed(B), &all);
        assert!(gone.is_empty(), "{gone:?}");
        assert_eq!(s2.current, Some(installed(B)));
        assert_eq!(s2.previous, Some(installed(A)));
        // B → C: B is kept, A goes.
        let mut s = s2.clone();
        s.adopt("berth-cccccccccccc");
        let (mut s3, gone) = after_boot(&s, &installed(C), &all);
        assert_eq!(gone, ["berth-aaaaaaaaaaaa"]);
        assert_eq!(s3.previous, Some(installed(B)));
        forget(&mut s3, "berth-aaaaaaaaaaaa");
        assert!(!s3.owns("berth-aaaaaaaaaaaa"));
        assert!(s3.owns(DATA_DISTRIBUTION));
        // The same image again changes nothing.
        let (s4, gone) = after_boot(&s3, &installed(C), &all);
        assert!(gone.is_empty());
        assert_eq!(s4, s3);
    }

    #[test]
    fn after_a_rollback_the_failed_one_goes_and_the_previous_stays() {
        let listed = [
            row(DATA_DISTRIBUTION),
            row("berth-aaaaaaaaaaaa"),
            row("berth-bbbbbbbbbbbb"),
            row("berth-cccccccccccc"),
        ];
        // Current B (previous A); C was imported and failed; B booted instead.
        let s = state(
            &[
                DATA_DISTRIBUTION,
                "berth-aaaaaaaaaaaa",
                "berth-bbbbbbbbbbbb",
                "berth-cccccccccccc",
            ],
            Some(B),
            Some(A),
        );
        let (next, gone) = after_boot(&s, &installed(B), &listed);
        assert_eq!(gone, ["berth-cccccccccccc"]);
        assert_eq!(next.current, Some(installed(B)));
        assert_eq!(next.previous, Some(installed(A)));
    }

    #[test]
    fn only_listed_distributions_of_berths_own_are_unregistered() {
        // A recorded previous that WSL no longer lists is dropped, not unregistered; someone
        // else's distribution is never in the list to unregister.
        let s = state(&[DATA_DISTRIBUTION, "berth-aaaaaaaaaaaa"], Some(B), Some(A));
        let listed = [
            row(DATA_DISTRIBUTION),
            row("berth-bbbbbbbbbbbb"),
            row("berth-dddddddddddd"),
        ];
        let (next, gone) = after_boot(&s, &installed(C), &listed);
        assert!(gone.is_empty(), "{gone:?}");
        assert_eq!(next.previous, Some(installed(B)));
        assert!(!next.owns("berth-dddddddddddd"));
    }

    #[test]
    fn the_state_file_round_trips_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(State::load(dir.path()).expect("none"), State::default());
        let s = state(&[DATA_DISTRIBUTION, "berth-aaaaaaaaaaaa"], Some(A), None);
        s.save(dir.path()).expect("save");
        assert_eq!(State::load(dir.path()).expect("load"), s);
        std::fs::write(
            dir.path().join(STATE_FILE),
            "{\"version\": 7, \"owned\": []}",
        )
        .expect("write");
        let err = State::load(dir.path()).expect_err("another schema");
        assert!(err.to_string().contains("schema 7"), "{err}");
        std::fs::write(dir.path().join(STATE_FILE), "not json").expect("write");
        assert!(matches!(
            State::load(dir.path()),
            Err(StateError::Invalid { .. })
        ));
    }

    #[test]
    fn disks_in_the_install_directory_name_berths_distributions() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(disks_in(&dir.path().join("none")).is_empty());
        for (name, disk) in [
            ("berth-data", true),
            ("berth-aaaaaaaaaaaa", true),
            ("empty", false),
        ] {
            std::fs::create_dir(dir.path().join(name)).expect("dir");
            if disk {
                std::fs::write(dir.path().join(name).join(VHDX), b"").expect("disk");
            }
        }
        let mut names = disks_in(dir.path());
        names.sort();
        assert_eq!(names, ["berth-aaaaaaaaaaaa", "berth-data"]);
    }
}
