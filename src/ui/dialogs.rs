//! File dialogs behind a trait, so the app uses rfd's native dialogs and tests inject paths.
//! Dialogs run on a helper thread (the UI keeps drawing); where no native dialog can open
//! (Linux without an XDG desktop portal or zenity), the app offers a path field instead.

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub enum DialogOutcome {
    Chosen(PathBuf),
    Cancelled,
    /// No native dialog could be shown; the text says why.
    Unavailable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum DialogKind {
    /// Choose an existing directory (checkpoints, image folders).
    PickFolder,
    /// Choose an existing file; `extension` (comma-separated) filters the listing.
    OpenFile { extension: String },
    /// Choose a file to write, offering `default_name`; `extension` filters the listing.
    SaveFile {
        default_name: String,
        extension: Option<String>,
    },
}

pub trait Dialogs: Send + Sync {
    /// Show a dialog and wait for the answer (called off the UI thread).
    fn ask(&self, title: &str, kind: &DialogKind) -> DialogOutcome;
}

/// rfd's native dialogs (XDG desktop portal or zenity on Linux).
pub struct NativeDialogs;

/// Why no native dialog can be shown here, if that can be told in advance.
fn unavailable_reason() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let dbus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    let zenity = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join("zenity").is_file()));
    (!dbus && !zenity).then(|| {
        "no native file dialog here (no D-Bus session for the XDG desktop portal, no zenity)"
            .to_string()
    })
}

/// rfd reports a failed portal call as "cancelled"; one that returns this fast was never shown.
const TOO_FAST: Duration = Duration::from_millis(150);

impl Dialogs for NativeDialogs {
    fn ask(&self, title: &str, kind: &DialogKind) -> DialogOutcome {
        if let Some(reason) = unavailable_reason() {
            return DialogOutcome::Unavailable(reason);
        }
        let started = Instant::now();
        let dialog = rfd::FileDialog::new().set_title(title);
        let chosen = match kind {
            DialogKind::PickFolder => dialog.pick_folder(),
            DialogKind::OpenFile { extension } => {
                let exts: Vec<&str> = extension.split(',').collect();
                dialog
                    .add_filter(extension.to_uppercase(), &exts)
                    .pick_file()
            }
            DialogKind::SaveFile {
                default_name,
                extension,
            } => {
                let mut d = dialog.set_file_name(default_name);
                if let Some(ext) = extension {
                    d = d.add_filter(ext.to_uppercase(), &[ext.as_str()]);
                }
                d.save_file()
            }
        };
        match chosen {
            Some(p) => DialogOutcome::Chosen(p),
            None if started.elapsed() < TOO_FAST => DialogOutcome::Unavailable(
                "the native file dialog closed at once (no desktop portal answered)".into(),
            ),
            None => DialogOutcome::Cancelled,
        }
    }
}

/// Answers every dialog with the next of a fixed list of outcomes (tests).
pub struct ScriptedDialogs {
    answers: std::sync::Mutex<std::collections::VecDeque<DialogOutcome>>,
}

impl ScriptedDialogs {
    pub fn new(answers: impl IntoIterator<Item = DialogOutcome>) -> Self {
        Self {
            answers: std::sync::Mutex::new(answers.into_iter().collect()),
        }
    }
}

impl Dialogs for ScriptedDialogs {
    fn ask(&self, _title: &str, _kind: &DialogKind) -> DialogOutcome {
        self.answers
            .lock()
            .ok()
            .and_then(|mut q| q.pop_front())
            .unwrap_or(DialogOutcome::Cancelled)
    }
}
