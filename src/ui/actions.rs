//! What a panel asks the app to do; the app owns the threads and the file flow.

use crate::explore::worker::Request;
use crate::train::Command;

#[derive(Debug)]
pub enum Action {
    /// Load the chosen data set (off the UI thread), then start a run.
    StartRun,
    Train(Command),
    /// Ask where, then save the training run's checkpoint there.
    SaveCheckpoint,
    /// Ask for a run directory and load it into the explorer.
    OpenCheckpoint,
    /// Ask for a data directory (IDX files or one image folder per class).
    PickDataFolder,
    Explore(Request),
    /// Load the model being trained into the explorer.
    ExploreTrainingRun,
    /// Ask where, then write `bytes` there.
    Export {
        what: &'static str,
        default_name: String,
        extension: &'static str,
        bytes: Vec<u8>,
    },
    Notice(String),
}
