"""forecast.fetch: downloading a data set, and where it may be written."""

import pytest

from forecast.errors import ForecastError


def test_download_dest_that_is_a_file(tmp_path):
    from forecast.fetch import download

    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(ForecastError, match=r"--dest: .* is a file, not a folder"):
        download("jena", tmp_path / "data", url="http://127.0.0.1:9/none.zip")
