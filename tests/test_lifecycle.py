"""forecast.lifecycle: plan -> create -> fit -> finish, as every training path goes through it: one writer per run
directory, a status.json that stays true on every way out, the same run from the same config."""


def test_available_memory_is_read():
    from forecast.lifecycle import available_memory

    assert available_memory() > 0
