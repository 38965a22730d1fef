// onnxruntime-node timing of one model on seeded inputs, for side-by-side ratios with tessel.
// Usage: node ort_bench.js MODEL.onnx NAME=1x3x224x224 [RUNS] [WARMUP] [THREADS]  -> one JSON line
// graphOptimizationLevel 'all', THREADS intra-op threads (default 1), one inter-op thread.
const ort = require('onnxruntime-node');

async function main() {
  const [model, shapeArg, runsArg, warmArg, threadsArg] = process.argv.slice(2);
  const [name, dims] = shapeArg.split('=');
  const shape = dims.split('x').map(Number);
  const runs = Number(runsArg || 10), warmup = Number(warmArg || 2);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threadsArg || 1), interOpNumThreads: 1, graphOptimizationLevel: 'all'});
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let seed = 1234;
  for (let i = 0; i < n; ++i) { seed = (seed * 1103515245 + 12345) % 2147483648; data[i] = seed / 1073741824 - 1; }
  const feeds = {[name]: new ort.Tensor('float32', data, shape)};
  for (let i = 0; i < warmup; ++i) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < runs; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const median = runs % 2 ? ms[(runs - 1) / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
  console.log(JSON.stringify({min_ms: ms[0], median_ms: median, max_ms: ms[runs - 1]}));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
