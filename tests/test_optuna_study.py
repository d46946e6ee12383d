"""forecast.optuna_study: the storage URL of a tuning study, checked before anything runs and shown without
its password."""

import pytest

from forecast.errors import ForecastError

optuna = pytest.importorskip("optuna", reason="forecast[tune] is not installed")


@pytest.mark.slow  # over 0.3 s (imports the storage drivers)
def test_bad_storage_is_exit_2_without_its_password(tmp_path):
    from forecast.optuna_study import check_storage, public_url

    for url, message in (
        ("study.db", "expected a database URL"),
        ("nosuchdb://x/y", "nosuchdb"),
        ("mysql+nosuchdriver://u:secret@h/db", "mysql"),
    ):
        with pytest.raises(ForecastError, match=message) as err:
            check_storage(url)
        assert err.value.exit_code == 2 and "secret" not in str(err.value)
    assert public_url("postgresql://tuner:secret@db/optuna") == "postgresql://tuner@db/optuna"
    assert public_url("journal:/shared/s.log") == "journal:/shared/s.log"
