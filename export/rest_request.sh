#!/usr/bin/env bash
# TF Serving REST API: one request with two descriptions -> two titles and scores.
# Usage: bash export/rest_request.sh [model-name] [host:port]
MODEL=${1:-autotitle-lstm-en}
HOST=${2:-localhost:8501}
curl -s -X POST "http://$HOST/v1/models/$MODEL:predict" -H 'Content-Type: application/json' -d '{
  "signature_name": "serving_default",
  "inputs": {"text": [
    "Atril is a simple multi-page document viewer. It can display and print PostScript (PS), Encapsulated PostScript (EPS), DJVU, DVI and Portable Document Format (PDF) files.",
    "This package contains the Python 3 bindings for the GObject introspection data of the document viewer."
  ]}
}'
# -> {"outputs": {"text": ["...", "..."], "score": [-0.41, -0.73]}}
