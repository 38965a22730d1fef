#!/usr/bin/env bash
# Bad input through the CLI: each case must fail with one clear line on stderr and a non-zero
# exit, never a crash. Usage: errors.sh TESSEL_BINARY
set -uo pipefail
tessel=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/make_models.py" "$work" || exit 1
# Every case runs under a 4 GiB address-space limit: a file that slipped past a budget would end
# in an allocation failure here (one error line), not in the machine's OOM killer.
ulimit -v $((4 * 1024 * 1024))
failures=0 passed=0

# expect NAME EXPECTED_SUBSTRING -- COMMAND...
expect() {
  local name=$1 want=$2
  shift 3
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$work/err")
  if [ $rc -eq 0 ] || [ $rc -ge 128 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$want" "$work/err"; then
    echo "FAIL $name: exit $rc, stderr:"; cat "$work/err"
    failures=$((failures + 1))
  else
    passed=$((passed + 1))
  fi
}

# succeed NAME -- COMMAND...: the command must exit 0.
succeed() {
  local name=$1
  shift 2
  if "$@" >"$work/out" 2>"$work/err"; then
    passed=$((passed + 1))
  else
    echo "FAIL $name: exit $?, stderr:"; cat "$work/err"
    failures=$((failures + 1))
  fi
}

# smaller NAME FILE BYTES: the file must be under BYTES.
smaller() {
  local size
  size=$(stat -c %s "$2" 2>/dev/null || echo missing)
  if [ "$size" != missing ] && [ "$size" -lt "$3" ]; then
    passed=$((passed + 1))
  else
    echo "FAIL $1: $2 is $size bytes (want under $3)"
    failures=$((failures + 1))
  fi
}

"$tessel" convert "$work/relu.onnx" -o "$work/relu.tsl" >/dev/null || { echo "FAIL: cannot convert relu.onnx"; exit 1; }
head -c 100 /dev/urandom >"$work/random.bin"
head -c 37 "$work/relu.onnx" >"$work/truncated.onnx"
head -c $(( $(stat -c %s "$work/relu.tsl") - 9 )) "$work/relu.tsl" >"$work/truncated.tsl"

expect unsupported-op "operator 'RandomUniformLike' (node 'random_0', opset 13) is not supported" -- "$tessel" convert "$work/unsupported.onnx" -o "$work/u.tsl"
expect corrupt-onnx "not a valid ONNX model" -- "$tessel" convert "$work/random.bin" -o "$work/c.tsl"
expect truncated-onnx "truncated.onnx" -- "$tessel" convert "$work/truncated.onnx" -o "$work/t.tsl"
expect missing-onnx "cannot open" -- "$tessel" convert "$work/nope.onnx" -o "$work/n.tsl"
expect corrupt-tsl "not a Tessel artifact" -- "$tessel" run "$work/random.bin"
expect truncated-tsl "truncated or padded" -- "$tessel" run "$work/truncated.tsl"
expect wrong-shape "input 'x' expects shape [1,4], got [1,5]" -- "$tessel" run "$work/relu.tsl" --input "x=$work/x_shape.npy"
expect wrong-dtype "input 'x' expects f32, got i64" -- "$tessel" run "$work/relu.tsl" --input "x=$work/x_dtype.npy"
expect sequence-pb "input 'x' is a tensor; the file given holds an ONNX sequence or optional value, not a tensor" -- "$tessel" run "$work/relu.tsl" --input "x=$work/x_seq.pb"
expect unknown-input "--input names 'z', which is not a model input" -- "$tessel" run "$work/relu.tsl" --input "z=$work/x_ok.npy"
expect bad-shape-flag "--shape expects NAME=DIMS" -- "$tessel" convert "$work/relu.onnx" -o "$work/r2.tsl" --shape x
expect unknown-backend "no backend named 'gpu9'" -- "$tessel" run "$work/relu.tsl" --backend gpu9
# Planned at run time (a symbolic batch dim, no --shape): runs at any batch, needs its input.
succeed batch-convert -- "$tessel" convert "$work/batch.onnx" -o "$work/batch.tsl"
succeed batch-run-3 -- "$tessel" run "$work/batch.tsl" --input "x=$work/x_batch3.npy"
succeed batch-run-1 -- "$tessel" run "$work/batch.tsl" --input "x=$work/x_ok.npy"
expect batch-no-input "input 'x' has dims known only at run time: give it with --input x=FILE" -- "$tessel" run "$work/batch.tsl"
expect batch-wrong-dim "input 'x' has shape [1,5], the model declares [-1,4]" -- "$tessel" run "$work/batch.tsl" --input "x=$work/x_shape.npy"
expect batch-bench "the model plans at run time" -- "$tessel" bench "$work/batch.tsl"
# Invalid ONNX: what the ONNX checker refuses, and opsets newer than the build knows.
expect missing-attribute "Required attribute 'axis' is missing" -- "$tessel" convert "$work/no_axis.onnx" -o "$work/o.tsl"
expect unknown-attribute "Unrecognized attribute: max for operator Clip" -- "$tessel" convert "$work/clip_attrs.onnx" -o "$work/o.tsl"
expect value-twice "'y' has been used as output names multiple times" -- "$tessel" convert "$work/twice.onnx" -o "$work/o.tsl"
expect future-opset "ONNX opset 99 is newer than the newest this build knows" -- "$tessel" convert "$work/opset99.onnx" -o "$work/o.tsl"
expect ir-version-0 "does not have an ir_version set properly" -- "$tessel" convert "$work/ir0.onnx" -o "$work/o.tsl"
expect wrong-output-shape "graph output 'y' is declared f32[1,5] but computes f32[1,4]" -- "$tessel" convert "$work/wrong_output.onnx" -o "$work/o.tsl"
# Tiny models asking the converter for huge work fail cleanly within seconds (regions counted
# before they are built, output sizes checked before per-coordinate loops); one that converts
# (a 240 GB Tile) is then refused by the memory budget.
expect resize-huge "output dim 1099511627776 out of range" -- timeout 10 "$tessel" convert "$work/resize_huge.onnx" -o "$work/o.tsl"
# Compact forms, not a region per index or phase: a 2^19-index Gather becomes one gather primitive
# (its 4 MiB index constant), a 2^14 x 2^14 nearest resize two gathers of index tables; both
# convert at once, and running the 1 GiB resize under a smaller budget is refused.
succeed gather-many -- timeout 10 "$tessel" convert "$work/gather_many.onnx" -o "$work/gm.tsl"
smaller gather-many "$work/gm.tsl" $((5 << 20))
succeed gather-many-run -- timeout 10 "$tessel" run "$work/gm.tsl"
succeed resize-phases -- timeout 10 "$tessel" convert "$work/resize_phases.onnx" -o "$work/rp.tsl"
smaller resize-phases "$work/rp.tsl" $((1 << 20))
expect resize-phases-run "over its memory budget" -- timeout 10 "$tessel" run "$work/rp.tsl" --memory-budget 256MiB
expect tile-huge "over its memory budget" -- timeout 10 "$tessel" run "$work/tile_huge.onnx"
# A file name with a newline still gives one error line.
expect newline-name 'cannot open' -- "$tessel" run "$work/two
lines.tsl"
# Files that are not regular files: refused without blocking (a FIFO would wait for a writer).
mkfifo "$work/fifo.tsl" "$work/fifo.npy"
expect fifo-model "is a FIFO, not a regular file" -- timeout 10 "$tessel" run "$work/fifo.tsl"
expect fifo-onnx "is a FIFO, not a regular file" -- timeout 10 "$tessel" convert "$work/fifo.tsl" -o "$work/f.tsl"
expect fifo-input "is a FIFO, not a regular file" -- timeout 10 "$tessel" run "$work/relu.tsl" --input "x=$work/fifo.npy"
expect directory-model "is a directory, not a regular file" -- "$tessel" run "$work"
expect directory-input "is a directory, not a regular file" -- "$tessel" run "$work/relu.tsl" --input "x=$work"
expect output-dir-is-file "exists and is not a directory" -- "$tessel" run "$work/relu.tsl" --output-dir "$work/relu.tsl"
# Numbers are parsed whole.
expect bad-runs "--runs expects a whole number from 1 to 1000000, got '5x'" -- "$tessel" bench "$work/relu.tsl" --runs 5x
expect huge-warmup "--warmup expects a whole number" -- "$tessel" bench "$work/relu.tsl" --warmup 99999999999999999999
expect bad-threads "--threads expects a whole number from 0 to 1024, got '-1'" -- "$tessel" run "$work/relu.tsl" --threads -1
expect bad-rtol "--rtol expects a number >= 0, got 'nan'" -- "$tessel" check "$work" --rtol nan

# Memory budgets: a session whose arena would pass it fails before anything is allocated (and a
# model declaring 1 TiB tensors against the default budget, half the memory, stays small).
expect over-budget "over its memory budget of 67108864 bytes" -- "$tessel" run "$work/big.onnx" --memory-budget 64MiB
expect under-ulimit "cannot allocate 8589934592 bytes" -- "$tessel" run "$work/big8.onnx" --memory-budget 16GiB
expect bad-budget "--memory-budget expects bytes" -- "$tessel" run "$work/relu.tsl" --memory-budget 12XB
expect bad-search "--search expects off, model or measure, got 'fastest'" -- "$tessel" run "$work/relu.tsl" --search fastest
expect bad-convert-search "--search expects off, model or measure, got 'fast'" -- "$tessel" convert "$work/relu.onnx" -o "$work/s.tsl" --search fast
expect convert-measure-target "convert --search measure times kernels on this machine: its target is host" -- "$tessel" convert "$work/relu.onnx" -o "$work/s.tsl" --search measure --target x86-64-avx2
succeed convert-measure -- "$tessel" convert "$work/relu.onnx" -o "$work/measured.tsl" --search measure --profile "$work/measured.profile"
succeed convert-measure-warm -- bash -c "'$tessel' convert '$work/relu.onnx' -o '$work/measured2.tsl' --search measure --profile '$work/measured.profile' | grep -q '^measured 0 candidates' && cmp -s '$work/measured.tsl' '$work/measured2.tsl'"
succeed run-measured-artifact -- bash -c "'$tessel' run '$work/measured.tsl' | grep -q \"plan: the artifact's\""
succeed convert-measure-no-profile -- "$tessel" convert "$work/relu.onnx" -o "$work/measured3.tsl" --search measure
expect convert-profile-first-fit "--profile calibrates the cost model: it needs --search model" -- "$tessel" convert "$work/relu.onnx" -o "$work/s.tsl" --profile "$work/p.txt"
expect convert-unknown-target "no target named 'arm64' (known: host, x86-64-avx2, x86-64-avx512)" -- "$tessel" convert "$work/relu.onnx" -o "$work/s.tsl" --target arm64
expect convert-zero-threads "--threads" -- "$tessel" convert "$work/relu.onnx" -o "$work/s.tsl" --threads 0
expect target-and-search "--target plans the artifact, --search the load: give one of them" -- "$tessel" run "$work/relu.onnx" --target x86-64-avx2 --search model
succeed convert-target -- "$tessel" convert "$work/relu.onnx" -o "$work/t.tsl" --search model --target x86-64-avx512 --threads 2
expect bad-chains "--chains expects auto, off or all, got 'some'" -- "$tessel" run "$work/relu.tsl" --chains some
succeed chains-all -- "$tessel" run "$work/relu.tsl" --chains all
expect weight-budget-first-fit "--weight-budget bounds the search's plan: it needs --search model" -- "$tessel" run "$work/relu.tsl" --weight-budget 1MiB
expect convert-weight-budget-first-fit "--weight-budget bounds the search's plan: it needs --search model" -- "$tessel" convert "$work/relu.onnx" -o "$work/w.tsl" --weight-budget 1KiB
expect convert-memory-budget-first-fit "--memory-budget bounds the search's plan: it needs --search model" -- "$tessel" convert "$work/relu.onnx" -o "$work/w.tsl" --memory-budget 1KiB
expect convert-memory-budget-over "over the memory budget of 64 bytes" -- "$tessel" convert "$work/relu.onnx" -o "$work/w.tsl" --search model --memory-budget 64
expect run-memory-budget-over "over the memory budget of 64 bytes" -- "$tessel" run "$work/relu.tsl" --search model --memory-budget 64
succeed devices-without-a-driver -- env VK_ICD_FILENAMES=/nonexistent.json OCL_ICD_VENDORS=/nonexistent "$tessel" devices
expect devices-extra "usage: tessel devices [--json]" -- "$tessel" devices extra
succeed devices-json -- sh -c '"$0" devices --json | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); assert d[\"backends\"] and d[\"backends\"][0][\"bandwidth_gbps\"] > 0 and d[\"backends\"][0][\"read_gbps\"] > 0"' "$tessel"
expect search-off "tessel search plans by cost" -- "$tessel" search "$work/relu.onnx" --search off
expect profile-without-search "--profile is the cost model's: it needs --search model or measure" -- "$tessel" run "$work/relu.tsl" --profile "$work/p.txt"
printf 'tessel-profile 1\nnot a key\n' >"$work/bad.profile"
expect bad-profile "profile cache: line 2" -- "$tessel" run "$work/relu.tsl" --search measure --profile "$work/bad.profile"
succeed run-search-measure -- "$tessel" run "$work/relu.tsl" --search measure --profile "$work/good.profile"
succeed search-measure-cached -- "$tessel" search "$work/relu.onnx" --search measure --profile "$work/good.profile"
succeed convert-search-model -- "$tessel" convert "$work/relu.onnx" -o "$work/searched.tsl" --search model
succeed run-search-model -- "$tessel" run "$work/searched.tsl" --search model
succeed search-report -- "$tessel" search "$work/relu.onnx" --report --runs 2
# The JSON report parses and carries every primitive with its candidates and the choice.
succeed search-json -- bash -c "'$tessel' search '$work/relu.onnx' --json --runs 1 | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"primitives\"] == len(d[\"plan\"]) > 0, d
for p in d[\"plan\"]:
    assert p[\"chosen\"] in [c[\"name\"] for c in p[\"candidates\"]], p
'"
"$tessel" convert "$work/huge.onnx" -o "$work/huge.tsl" >/dev/null 2>&1 || { echo "FAIL: cannot convert huge.onnx"; failures=$((failures + 1)); }
expect huge-declared "over its memory budget" -- "$tessel" run "$work/huge.tsl"
rss=$(/usr/bin/python3 -c "
import resource, subprocess, sys
subprocess.run(sys.argv[1:], capture_output=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)" "$tessel" run "$work/huge.tsl")
if [ "$rss" -ge 64 ]; then
  echo "FAIL huge-declared-rss: peak RSS $rss MiB (limit 64)"; failures=$((failures + 1))
else
  passed=$((passed + 1))
fi

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
