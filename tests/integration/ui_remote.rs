//! The app on a remote server: the run form's Remote… device and Explore's generator there.

use crate::remote::Server;
use crate::ui::{harness, options, tiny_settings, wait_for, with_shipped_model};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use latentlab::device::DeviceChoice;
use latentlab::train::Command;
use latentlab::ui::actions::Action;
use latentlab::ui::app::LatentLabApp;
use latentlab::ui::settings::Tab;
use latentlab::ui::train_panel::RunStatus;

#[test]
fn remote_in_the_device_menu_asks_for_a_server_and_a_wrong_token_is_named() {
    let server = Server::start(4);
    let mut h = harness(options(vec![], None));
    tiny_settings(&mut h.state_mut().settings);
    h.state_mut().settings.tab = Tab::Train;
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "Device")
        .click();
    h.run_steps(2);
    h.get_by_label("remote…").click();
    h.run_steps(2);
    assert_eq!(
        h.state().settings.run.device,
        DeviceChoice::Remote("ws://127.0.0.1:3000".into())
    );
    // The form now has the server's address and token file.
    h.get_by_label("Server");
    h.get_by_label("Token file");
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("token");
    std::fs::write(&wrong, "a-token-that-is-not-the-servers").unwrap();
    let address = server.address.strip_prefix("ws://").unwrap().to_string();
    h.state_mut().settings.run.device = DeviceChoice::Remote(format!("ws://{address}"));
    h.state_mut().settings.run.token_file = Some(wrong);
    h.run_steps(2);
    h.get_by_label("Start").click();
    wait_for(&mut h, "the refusal", |a| {
        a.train.status == RunStatus::Failed
    });
    h.run_steps(2);
    h.get_by_label_contains("refused the token");
}

/// The shipped model in Explore, its generator moved to `server` with "on the server".
fn explore_on<'a>(server: &Server) -> Harness<'a, LatentLabApp> {
    let mut h = with_shipped_model(vec![]);
    h.state_mut().settings.run.device = DeviceChoice::Remote(server.address.clone());
    h.state_mut().settings.run.token_file = Some(server.token_file.clone());
    h.state_mut().settings.tab = Tab::Explore;
    h.run_steps(2);
    h.get_by_label("on the server").click();
    wait_for(&mut h, "the generator on the server", |a| {
        a.explore.remote.is_some()
    });
    h
}

/// Move Explore's z0 slider to `value` and wait for an image unlike the one shown before.
fn new_image_after_z0(h: &mut Harness<'_, LatentLabApp>, value: f64, what: &str) {
    let before = h.state().explore.image.clone().expect("image");
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "z0")
        .set_value_accesskit(value);
    wait_for(h, what, |a| {
        a.explore
            .image
            .as_ref()
            .is_some_and(|i| i.pixels != before.pixels)
    });
}

#[test]
fn explore_runs_its_generator_on_the_server_and_shows_the_round_trip() {
    let server = Server::start(4);
    let mut h = explore_on(&server);
    assert_eq!(
        h.state().explore.remote.as_deref(),
        Some(server.address.as_str())
    );
    // A new image comes from the server.
    new_image_after_z0(&mut h, 2.5, "an image from the server");
    h.run_steps(2);
    h.get_by_label_contains("via the server");
    h.get_by_label("on the server").click();
    wait_for(&mut h, "the generator back here", |a| {
        a.explore.remote.is_none()
    });
}

#[test]
fn explore_comes_back_here_when_its_server_dies_and_reconnects_once_it_is_back() {
    let mut server = Server::start(4);
    let port = server.port();
    let mut h = explore_on(&server);
    server.kill();
    // The next image asked for fails there: the explorer names the server and comes home.
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "z0")
        .set_value_accesskit(2.5);
    wait_for(&mut h, "the generator back here", |a| {
        a.explore.remote.is_none()
    });
    h.run_steps(2);
    h.get_by_label_contains("stopped answering");
    new_image_after_z0(&mut h, -2.5, "an image drawn here");
    // The server is back at the same address: the same toggle reaches it.
    let _back = Server::start_on(4, port);
    h.get_by_label("on the server").click();
    wait_for(&mut h, "the generator on the server that came back", |a| {
        a.explore.remote.is_some()
    });
}

#[test]
fn after_a_lost_server_resume_continues_the_save_once_it_is_back() {
    let mut server = Server::start(4);
    let port = server.port();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut h = harness(options(vec![], None));
    tiny_settings(&mut h.state_mut().settings);
    h.state_mut().settings.run.device = DeviceChoice::Remote(server.address.clone());
    h.state_mut().settings.run.token_file = Some(server.token_file.clone());
    h.state_mut().settings.tab = Tab::Train;
    h.run_steps(2);
    h.get_by_label("Start").click();
    wait_for(&mut h, "steps on the server", |a| a.train.step >= 3);
    h.state_mut().act(Action::Train(Command::Save(run.clone())));
    wait_for(&mut h, "the save", |a| a.train.saved_to.is_some());
    let saved = h.state().train.saved_step.unwrap();
    server.kill();
    wait_for(&mut h, "the lost server", |a| {
        a.train.status == RunStatus::Failed
    });
    h.run_steps(2);
    h.get_by_label_contains("stopped answering");
    let _back = Server::start_on(4, port);
    h.get_by_label(&format!("Resume from step {saved}")).click();
    wait_for(&mut h, "steps after the save", |a| {
        a.train.status == RunStatus::Running && a.train.step > saved
    });
    assert_eq!(
        h.state().train.metrics().first().map(|m| m.step),
        Some(saved + 1),
        "it went on from the save, not from step 0"
    );
    assert!(
        h.state().train.alert.is_none(),
        "the lost server's message went with its run"
    );
}
