//! The Train tab's schedule and mode-collapse banner, driven through the app.

use crate::ui::{harness, options, tiny_settings, wait_for};
use egui_kittest::kittest::Queryable;
use latentlab::ui::train_panel::RunStatus;

#[test]
fn a_decaying_schedule_ends_the_run_and_the_collapse_banner_can_be_dismissed() {
    use latentlab::quality::collapse::CollapseSign;
    use latentlab::types::schedule::LrShape;
    let mut h = harness(options(vec![], None));
    tiny_settings(&mut h.state_mut().settings);
    h.state_mut().settings.run.lr_schedule = Some(LrShape::Cosine);
    h.state_mut().settings.run.schedule_steps = 4;
    h.step();
    h.get_by_label("Start").click();
    wait_for(&mut h, "the schedule's end", |a| {
        a.train.status == RunStatus::Finished
    });
    assert_eq!(
        h.state().train.step,
        4,
        "the run stops where the rate reaches zero"
    );
    h.run_steps(2);
    h.get_by_label_contains("cosine to zero at step 4");
    // The alarm as the engine sends it: a banner with what to try, and a chart marker.
    h.state_mut()
        .train
        .apply(latentlab::train::Event::Collapse {
            step: 4,
            sign: CollapseSign::Diversity(0.1),
        });
    h.run_steps(2);
    h.get_by_label_contains("mode collapse? the samples are 10% as varied as the data");
    assert!(
        h.state()
            .train
            .markers
            .iter()
            .any(|m| m.text == "mode collapse?")
    );
    // The finished run's last events may still move the layout under the first click (seen
    // under load), so click again while the banner is there.
    for _ in 0..3 {
        if h.state().train.collapse.is_none() {
            break;
        }
        h.get_by_label("Dismiss").click();
        h.run_steps(2);
    }
    assert!(h.state().train.collapse.is_none(), "dismissed");
}
