"""Forecast with an exported ONNX model and onnxruntime alone: no forecast, Keras or TensorFlow.

forecast export runs/etth1-... --format onnx --output etth1.onnx
python examples/serve_onnx.py etth1.onnx data/ETTh1.csv
"""

import json
import sys
from pathlib import Path

import onnxruntime as ort
import pandas as pd

model = Path(sys.argv[1])
signature = json.loads(model.with_suffix(".signature.json").read_text())
window = signature["inputs"][0]  # raw values, original units, these columns in this order
rows = pd.read_csv(sys.argv[2])[window["columns"]].to_numpy("float32")
step, timesteps = signature["window"]["step"], window["shape"][1]
last = rows[len(rows) - 1 - step * (timesteps - 1) :: step][None]  # the latest window: (1, timesteps, features)
session = ort.InferenceSession(str(model))
outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"window": last}), strict=True))
forecast = pd.DataFrame(outputs["forecast"][0], columns=signature["outputs"][0]["columns"])
print(forecast.round(3).to_string())  # one row per horizon step, original units
