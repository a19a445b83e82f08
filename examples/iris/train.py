"""Fit a nearest-centroid classifier on data/train.csv and write model/centroids.json."""

import csv
import json
import os

with open("data/train.csv", newline="") as fh:
    rows = list(csv.DictReader(fh))
sums: dict[str, list[float]] = {}
for r in rows:
    s = sums.setdefault(r["label"], [0.0, 0.0, 0])
    s[0] += float(r["sepal_length"])
    s[1] += float(r["sepal_width"])
    s[2] += 1
centroids = {label: [s[0] / s[2], s[1] / s[2]] for label, s in sums.items()}
os.makedirs("model", exist_ok=True)
with open("model/centroids.json", "w") as fh:
    json.dump(centroids, fh, indent=2, sort_keys=True)
print("learning rate (unused):", os.environ.get("learning_rate"))
print(json.dumps(centroids, sort_keys=True))
