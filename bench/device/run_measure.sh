#!/usr/bin/env bash
# `greencache profile measure` against the minimal PyTorch server (serve_llama.py) on the
# device machine, GPU power from NVML. Run from the repository root:
#   bash bench/device/run_measure.sh OUT_DIR [profile measure options...]
# Writes into OUT_DIR: env.txt (GPU, driver, torch), server.log, measure.log, and the
# measured table (.csv, .meta.json) with its .sweep.json.
set -u
OUT=${1:?output folder}
shift
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
mkdir -p "$OUT"
{ nvidia-smi --query-gpu=name,driver_version,power.limit,memory.total --format=csv
  python3 -c "import torch, aiohttp, pynvml; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'aiohttp', aiohttp.__version__)"
} > "$OUT/env.txt" 2>&1
python3 bench/device/serve_llama.py --port 8000 > "$OUT/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do
  grep -q listening "$OUT/server.log" && break
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 1
done
if ! grep -q listening "$OUT/server.log"; then
  echo "the server did not start:"; cat "$OUT/server.log"; kill "$SERVER" 2>/dev/null; exit 1
fi
python3 -m planner profile measure --endpoint http://127.0.0.1:8000 --model llama-3-8b \
  --gpu h200 --out "$OUT" "$@" > "$OUT/measure.log" 2>&1
rc=$?
kill -INT "$SERVER"
wait "$SERVER"
tail -5 "$OUT/measure.log"
exit $rc
