"""Forecast with an exported SavedModel and TensorFlow alone (what TensorFlow Serving loads).

forecast export runs/etth1-... --format saved_model --output etth1_savedmodel
python examples/serve_saved_model.py etth1_savedmodel data/ETTh1.csv
"""

import json
import sys
from pathlib import Path

import pandas as pd
import tensorflow as tf

model = Path(sys.argv[1])
signature = json.loads((model / "signature.json").read_text())
window = signature["inputs"][0]  # raw values, original units, these columns in this order
rows = pd.read_csv(sys.argv[2])[window["columns"]].to_numpy("float32")
step, timesteps = signature["window"]["step"], window["shape"][1]
last = rows[len(rows) - 1 - step * (timesteps - 1) :: step][None]  # the latest window: (1, timesteps, features)
serve = tf.saved_model.load(str(model)).signatures["serving_default"]
outputs = serve(window=tf.constant(last))
forecast = pd.DataFrame(outputs["forecast"].numpy()[0], columns=signature["outputs"][0]["columns"])
print(forecast.round(3).to_string())  # one row per horizon step, original units
