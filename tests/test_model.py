import keras
import pytest

from forecast import config as cfg
from forecast.model import build, count_parameters, cudnn_blockers
from forecast.windows import WindowSpec

SPEC = WindowSpec(timesteps=12, step=1, delay=1, horizon=3)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_closed_form_parameter_count_matches_keras(cell, bidirectional):
    model_cfg = cfg.Model(
        cell=cell,
        layers=[cfg.Layer(units=16), cfg.Layer(units=8)],
        bidirectional=bidirectional,
        dense=[10],
        dropout_between=0.1,
    )
    model = build(model_cfg, SPEC, 5, [0, 3])
    assert model.count_params() == count_parameters(model_cfg, SPEC, 5, 2)
    assert model.output_shape == (None, 3, 2)


def test_lstm_formula_by_hand():
    # One LSTM(32) on 14 features: 4*32*(32+14+1) = 6016; head Dense(1): 33.
    model_cfg = cfg.Model(cell="lstm", layers=[cfg.Layer(units=32)])
    assert count_parameters(model_cfg, WindowSpec(240, 6, 144, 1), 14, 1) == 6016 + 33


def test_stacking_sets_return_sequences():
    model = build(cfg.Model(layers=[cfg.Layer(units=4)] * 3), SPEC, 2, [1])
    rnns = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert [layer.return_sequences for layer in rnns] == [True, True, False]


def test_cudnn_blockers_name_the_setting():
    assert cudnn_blockers(cfg.Model(layers=[cfg.Layer(dropout=0.3)])) == []
    assert cudnn_blockers(cfg.Model(layers=[cfg.Layer(), cfg.Layer(recurrent_dropout=0.2)])) == [
        "model.layers[1].recurrent_dropout=0.2 > 0"
    ]
    assert "simple_rnn" in cudnn_blockers(cfg.Model(cell="simple_rnn"))[0]
