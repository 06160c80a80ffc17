"""DiscriminatorWatch: one warning when the discriminator wins outright, one when it stops, none while balanced."""

from anr_studio.train.gan_watch import DiscriminatorWatch


def _feed(watch, values, log_every=10):
    for i, v in enumerate(values):
        watch.update((i + 1) * log_every, {"total": 1.0, "discriminator": v})


def test_warns_once_when_the_discriminator_wins_and_once_when_it_stops():
    said = []
    watch = DiscriminatorWatch(log_every=10, warn=said.append, window_steps=100)
    # The GPU log's shape: ~0.25 while balanced, then ~0.003 for a few hundred steps, then back.
    _feed(watch, [0.25] * 30 + [0.003] * 40 + [0.22] * 30)
    assert len(said) == 2
    assert "discriminator is winning" in said[0] and "lower loss.adversarial" in said[0]
    assert said[0].startswith("step 4")  # within one window of the fall (step 300)
    assert "no longer wins" in said[1] and "since step 4" in said[1]


def test_balanced_training_and_missing_terms_say_nothing():
    said = []
    watch = DiscriminatorWatch(log_every=1, warn=said.append, window_steps=20)
    _feed(watch, [0.25, 0.21, 0.26, 0.05, 0.24] * 20, log_every=1)  # a dip, not an episode
    for step in range(100):
        watch.update(step, {"total": 1.0})  # no discriminator (loss.adversarial=0)
    assert said == []


def test_the_trainer_reports_a_winning_discriminator_through_warn(tmp_path, captures, body):
    from anr_studio.train.trainer import Trainer
    from tests.train.test_trainer import small

    said = []
    trainer = Trainer(small("tiny", "optim.steps=3", "optim.log_every=1"), captures, tmp_path / "run", device="cpu",
                      body=body, warn=said.append)
    trainer._gan_watch.window = type(trainer._gan_watch.window)(maxlen=1)
    trainer._gan_watch.threshold = 10.0  # any discriminator loss counts as winning
    trainer.run()
    assert any("discriminator is winning" in m for m in said)
