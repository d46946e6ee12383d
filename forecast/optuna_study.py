"""The Optuna study behind `forecast tune`: its storage, sampler and pruner, loaded and deleted.

The study lives in a storage any number of workers share: a SQLite file in the sweep directory by
default, any SQLAlchemy URL, or `journal:PATH` (Optuna's journal file, for shared filesystems).
tune.json records the storage without its password (`public_url`), so `forecast leaderboard` and
`tune --best` find the study again. Optuna is an optional extra: `load_optuna` imports it.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from forecast.errors import ForecastError

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "halving", "none")
# MedianPruner: no pruning until 5 trials have finished, nor before a trial's 3rd epoch (the first
# epochs rank learning rates by how fast they start, not where they end). Steps are epochs from 1,
# and Optuna prunes from step == n_warmup_steps on.
MEDIAN = {"n_startup_trials": 5, "n_warmup_steps": 3}


def load_optuna():
    """Optuna, quiet (forecast logs each trial itself); exit 2 with the install line when it is missing.

    Optuna is an optional extra (`forecast[tune]`): it is imported here, on first use, never at start-up.
    """
    try:
        import optuna  # deferred: an optional extra (forecast[tune])
    except ImportError:
        raise ForecastError("forecast tune needs Optuna: pip install 'forecast[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # forecast logs each trial itself
    return optuna


def open_storage(url: str | None, sweep_dir: Path):
    """An Optuna storage: `sqlite:///SWEEP_DIR/study.db` by default, any SQLAlchemy URL, or `journal:PATH`.

    Args:
        url: `--storage`, or None for the sweep directory's SQLite file.
        sweep_dir: the study's directory.
    """
    optuna = load_optuna()
    if url is None:
        url = f"sqlite:///{(Path(sweep_dir) / 'study.db').resolve()}"
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend  # deferred: an optional extra

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    check_storage(url)  # form and driver; what is left to fail (the database itself) is a runtime error
    # SQLite: several workers' writes queue for the file's lock instead of failing after 5 s
    engine = {"connect_args": {"timeout": 300}} if url.startswith("sqlite") else None
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


def check_storage(url: str | None) -> None:
    """A storage URL's form and database driver, checked without connecting (exit 2 naming it).

    Args:
        url: `--storage`; None (the default SQLite file) and `journal:PATH` need no check.
    """
    if url is None or url.startswith("journal:"):
        return
    if "://" not in url:
        raise ForecastError(f"--storage {url}: expected a database URL (sqlite:///study.db) or journal:PATH")
    # deferred: SQLAlchemy comes with Optuna, an optional extra
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    try:
        make_url(url).get_dialect().import_dbapi()
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError) as exc:
        raise ForecastError(f"--storage {public_url(url)}: {exc}") from None


def public_url(url: str) -> str:
    """A storage URL without its password: what tune.json records and messages show.

    Args:
        url: `--storage` as given.
    """
    if url.startswith("journal:") or "://" not in url:
        return url
    from sqlalchemy.engine import make_url  # deferred: SQLAlchemy comes with Optuna, an optional extra

    try:
        return make_url(url)._replace(password=None).render_as_string(hide_password=False)  # a NamedTuple
    except Exception:  # not a URL SQLAlchemy parses: say nothing of it
        return "(the --storage URL)"


def make_sampler(name: str, seed: int):
    """The study's sampler for one ask: `random`, or multivariate TPE that lies about running trials
    (`constant_liar`), so workers asking together do not draw alike.

    Args:
        name: one of SAMPLERS.
        seed: the sampler's seed (`tuning.work` gives the study's k-th trial `config.seed + k`).
    """
    optuna = load_optuna()
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)


def make_pruner(name: str):
    """The study's pruner on each epoch's val_loss: median (see MEDIAN), successive halving, or none.

    Args:
        name: one of PRUNERS.
    """
    optuna = load_optuna()
    if name == "median":
        return optuna.pruners.MedianPruner(**MEDIAN)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def forget(plan: dict, storage: str | None, sweep_dir: Path) -> None:
    """Delete the study an old tune.json names from its storage (this run's --storage when it is
    the recorded one: the recorded URL has no password).

    Args:
        plan: the old tune.json.
        storage: this run's `--storage`.
        sweep_dir: the study's directory (where the default SQLite file is).
    """
    optuna = load_optuna()
    recorded = plan.get("storage")
    url = storage if storage is not None and public_url(storage) == recorded else recorded
    with contextlib.suppress(KeyError):  # never created, or deleted already
        optuna.delete_study(study_name=plan["study"], storage=open_storage(url, sweep_dir))


def load_study(sweep_dir: Path, storage: str | None = None):
    """tune.json and the study it names (in `storage`, else the one tune.json records, else the default).

    Args:
        sweep_dir: a tuning directory (exit 2 when it has no tune.json, or its storage no such study).
        storage: `--storage`, when tune.json's (recorded without a password) is not enough.

    Returns:
        The plan tune.json holds, and the Optuna study.
    """
    sweep_dir = Path(sweep_dir)
    try:
        plan = json.loads((sweep_dir / "tune.json").read_text())
    except (OSError, ValueError):
        raise ForecastError(f"{sweep_dir}: not a tuning directory (no tune.json)") from None
    optuna = load_optuna()
    try:
        study = optuna.load_study(
            study_name=plan["study"], storage=open_storage(storage or plan.get("storage"), sweep_dir)
        )
    except KeyError:
        raise ForecastError(f"{sweep_dir}: the storage holds no study {plan['study']!r}; give its --storage") from None
    return plan, study
