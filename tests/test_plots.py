"""The pictures (forecast/plots.py): forecast.png, loss.png and predict's --plot, checked on the
matplotlib Figures the functions return: what is drawn, where, and that no label hides another."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ETTH1, panel_config, panel_frame, tiny_config
from matplotlib.backends.backend_agg import FigureCanvasAgg
from typer.testing import CliRunner

import forecast
from forecast import plots
from forecast.cli import app
from forecast.errors import ForecastError
from forecast.forecasts import Forecasts
from forecast.inference import predict_splits
from forecast.prepare import prepare

runner = CliRunner()


@pytest.fixture(scope="module")
def conformal_run(tmp_path_factory):
    """tiny_config with 80 % and 95 % conformal intervals, one epoch."""
    config = tiny_config(training={"epochs": 1}, intervals={"method": "conformal", "levels": [0.8, 0.95]})
    return forecast.train(forecast.Config.model_validate(config), run_dir=tmp_path_factory.mktemp("plots") / "run")


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory):
    """A panel of four hourly series (one too short for a window), two epochs."""
    root = tmp_path_factory.mktemp("plots-panel")
    path = root / "panel.csv"
    panel_frame({"a": 120, "b": 100, "c": 90, "d": 6}).to_csv(path, index=False)
    return forecast.train(panel_config(path), run_dir=root / "run")


def redraw(run, tmp_path, plot_series=None):
    """forecast.png redrawn from a run: its test predictions, as training drew them (with
    metrics.plot_series = `plot_series`)."""
    config = run.config
    prepared = prepare(config, run.load_scalers(config), schema=run.load_schema())
    model = run.load_model(prepared.input_shape, prepared.output_shape)
    test_pred = predict_splits(model, prepared, ("test",))["test"]
    calibration = run.load_intervals()
    chosen = plots.chosen_series(plot_series, prepared)
    return plots.plot_test(tmp_path / "forecast.png", run.path.name, prepared, test_pred, calibration, chosen), prepared


def gids(ax, gid: str) -> list:
    return [artist for artist in (*ax.lines, *ax.collections, *ax.patches) if artist.get_gid() == gid]


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_forecast_png_draws_whole_horizons_from_the_last_test_origins(conformal_run, tmp_path):
    assert conformal_run.forecast_plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # training drew it
    fig, prepared = redraw(conformal_run, tmp_path)
    assert (tmp_path / "forecast.png").read_bytes()[:4] == b"\x89PNG"
    *panels, overview = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == prepared.series.target_names  # ETTh1's 7 columns
    times = prepared.series.times
    for ax in panels:
        fans = gids(ax, "forecast")
        assert len(fans) == plots.ORIGINS and len(gids(ax, "origin")) == plots.ORIGINS
        assert all(len(line.get_xdata()) == 4 for line in fans)  # the whole horizon, not step 1
        ends = [pd.Timestamp(line.get_xdata()[-1]) for line in fans]
        # the split's last origins, a horizon apart: the last forecast ends on the test split's last row
        assert ends == list(times[[987, 991, 995, 999]])
        actual = gids(ax, "actual")[0].get_xdata()
        # two seasons (48 hours) before the first forecast (rows 984-987), through the last
        assert pd.Timestamp(actual[0]) == times[984 - 48] and pd.Timestamp(actual[-1]) == times[999]
        assert len(gids(ax, "interval 0.8")) == len(gids(ax, "interval 0.95")) == plots.ORIGINS
        assert not gids(ax, "test split")  # all of the view is test: no border to shade from
    assert "forecasts of steps 1-4 from the split's last 4 origins, 4 rows apart" in fig.get_suptitle()
    # the overview: MAE per step of model and baselines, the same numbers as metrics.json's per_step
    per_step = conformal_run.metrics.test.per_step
    assert gids(overview, "model")[0].get_ydata() == pytest.approx(per_step["model"], rel=1e-5)
    assert gids(overview, "repeat-last")[0].get_ydata() == pytest.approx(per_step["naive"], rel=1e-6)
    assert len(gids(overview, "seasonal naive (24 rows)")[0].get_ydata()) == 4
    assert "197 test windows" in overview.get_title()


def test_interval_swatches_differ_by_more_than_a_shade_and_labels_are_distinct(conformal_run, tmp_path):
    fig, _ = redraw(conformal_run, tmp_path)
    legend = fig.subfigs[0].legends[0]
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == ["actual", "95% interval", "80% interval", "model forecast", "forecast origin"]
    wide, narrow = (gids(fig.axes[0], f"interval {level}")[0] for level in (0.95, 0.8))
    assert wide.get_hatch() and not narrow.get_hatch()
    assert wide.get_facecolor()[0][3] != narrow.get_facecolor()[0][3]  # and a different alpha


def test_forecast_png_of_a_panel_names_its_series(panel_run, tmp_path):
    fig, _ = redraw(panel_run, tmp_path)
    panels = [ax for ax in fig.axes[:-1] if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["series 'a': sales", "series 'b': sales", "series 'c': sales"]
    assert "all 3 series with test windows" in fig.get_suptitle()
    assert all(len(line) <= plots.TITLE_WIDTH for line in fig.get_suptitle().split("\n"))  # wrapped, not cut off
    # 8 test rows, horizon 4: two origins each, and the test split shaded from its first row
    assert all(len(gids(ax, "forecast")) == 2 and len(gids(ax, "test split")) == 1 for ax in panels)
    assert all(len(gids(ax, "interval 0.8")) == 0 for ax in panels)  # no intervals, no bands
    overview = fig.axes[-1]
    assert "scaled values, mean over all series" in overview.get_title()
    assert gids(overview, "model")[0].get_ydata() == pytest.approx(panel_run.metrics.test.per_step["model"], rel=1e-5)


def test_forecast_png_draws_the_series_metrics_plot_series_names(panel_run, tmp_path):
    fig, prepared = redraw(panel_run, tmp_path, ["c", "a"])
    panels = [ax for ax in fig.axes[:-1] if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["series 'c': sales", "series 'a': sales"]  # in the order given
    assert "chosen: 2 of 3 series with test windows" in fig.get_suptitle()
    for name in ("d", "zz"):  # too short for a window; not in the data: refused as validate refuses it
        with pytest.raises(ForecastError, match=f"metrics.plot_series: '{name}' has no test windows") as err:
            plots.chosen_series(["a", name], prepared)
        assert err.value.exit_code == 2
    with pytest.raises(ValueError, match=r"metrics\.plot_series picks series of a panel: it needs data\.id_column"):
        forecast.Config.model_validate(tiny_config(metrics={"plot_series": ["a"]}))


@pytest.mark.slow  # over 0.3 s
def test_loss_legend_hides_no_learning_rate_label(tmp_path):
    epochs = np.arange(30)
    history = pd.DataFrame({
        "epoch": epochs, "loss": 1 / (epochs + 1) + 0.3, "val_loss": 1 / (epochs + 1) + 0.35,
        "learning_rate": np.where(epochs < 10, 1e-3, np.where(epochs < 20, 5e-4, 2.5e-4)),
    })  # fmt: skip
    fig = plots.plot_loss(tmp_path / "loss.png", history, "run: mse loss", "mse", best_epoch=25)
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # lays out as the PNG was
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    notes = [text for text in ax.texts if text.get_text().startswith("lr ")]
    assert [text.get_text() for text in notes] == ["lr 5.0e-04", "lr 2.5e-04"]
    assert not any(overlaps(legend, text.get_window_extent(renderer)) for text in notes)
    assert not overlaps(legend, ax.get_window_extent(renderer))  # outside the axes: no curve under it


def test_predict_plot_draws_the_history_tail_and_the_future(conformal_run, recent, tmp_path):
    forecasts = forecast.api.forecasts(conformal_run, recent)
    fig = forecasts.plot(tmp_path / "future.png")
    assert (tmp_path / "future.png").read_bytes()[:4] == b"\x89PNG"
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 7 and "forecast from 2016-07-13 11:00" in panels[0].get_title()
    stamps = pd.read_csv(recent, parse_dates=["date"])["date"]
    for ax in panels:
        actual, fans = gids(ax, "actual")[0].get_xdata(), gids(ax, "forecast")
        assert len(fans) == 1 and len(actual) == 72  # three days of hourly history (> four horizons)
        assert pd.Timestamp(actual[-1]) == stamps.iloc[-1] and pd.Timestamp(actual[0]) == stamps.iloc[-72]
        future = fans[0].get_xdata()
        assert list(map(pd.Timestamp, future)) == list(pd.date_range(stamps.iloc[-1], periods=5, freq="h")[1:])
        assert len(gids(ax, "interval 0.95")) == 1


@pytest.mark.slow  # over 0.3 s
def test_predict_plot_caps_its_panels(tmp_path):
    n = plots.MAX_PANELS + 1
    values = np.random.default_rng(0).normal(size=(1, 2, n))
    forecasts = Forecasts(values, pd.Index([9]), pd.Index([10, 11]), [f"c{k}" for k in range(n)])
    fig = forecasts.plot(tmp_path / "f.png")
    assert len([ax for ax in fig.axes if ax.get_visible()]) == plots.MAX_PANELS
    assert f"{plots.MAX_PANELS} of {n} panels" in fig.get_suptitle()


def test_cli_predict_plot_of_chosen_series(panel_run, tmp_path):
    out, png = tmp_path / "p.csv", tmp_path / "p.png"
    result = runner.invoke(app, ["predict", str(panel_run.path), "-o", str(out), "--plot", str(png), "--series", "c"])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:4] == b"\x89PNG" and out.exists()
    unknown = runner.invoke(app, ["predict", str(panel_run.path), "-o", str(tmp_path / "x.csv"),
                                  "--plot", str(tmp_path / "x.png"), "--series", "zz"])  # fmt: skip
    assert unknown.exit_code == 2 and "--series: 'zz' is not a series of" in unknown.stderr
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.png").exists()
    short = runner.invoke(app, ["predict", str(panel_run.path), "--plot", str(tmp_path / "x.png"), "--series", "d"])
    assert short.exit_code == 2 and "'d' has no forecast" in short.stderr


def test_cli_predict_plot_notes_a_short_series_once(panel_run, tmp_path):
    out, png = tmp_path / "p.csv", tmp_path / "p.png"
    result = runner.invoke(app, ["predict", str(panel_run.path), "-o", str(out), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("too short for one window") == 1, result.stderr  # the plot's read said it too
    assert png.read_bytes()[:4] == b"\x89PNG" and pd.read_csv(out)["store"].nunique() == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--series", "a"], "--series chooses the series --plot draws"),
        (["--plot", "f.jpg"], "give a file name ending in .png"),
        (["--plot", "{tmp}/f.png", "--series", "a"], "this run forecasts one series"),
    ],
)
def test_cli_predict_plot_refusals(run, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = runner.invoke(app, ["predict", str(run.path), "--data", str(ETTH1), *args])
    assert result.exit_code == 2 and message in result.stderr
    assert not list(tmp_path.iterdir())
