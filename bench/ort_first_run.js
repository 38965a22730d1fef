// onnxruntime-node: session creation and first run of one model on seeded inputs, as JSON.
// Usage: node ort_first_run.js MODEL.onnx NAME=1x3x224x224 [THREADS]   (or --baseline: only
// load the module, for the RSS of node itself)
const t0 = process.hrtime.bigint();
const ort = require('onnxruntime-node');
async function main() {
  const [model, shapeArg, threadsArg] = process.argv.slice(2);
  if (model === '--baseline') { console.log('{}'); return; }
  const [name, dims] = shapeArg.split('=');
  const shape = dims.split('x').map(Number);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threadsArg || 1), interOpNumThreads: 1, graphOptimizationLevel: 'all'});
  const t1 = process.hrtime.bigint();
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let seed = 1234;
  for (let i = 0; i < n; ++i) { seed = (seed * 1103515245 + 12345) % 2147483648; data[i] = seed / 1073741824 - 1; }
  await session.run({[name]: new ort.Tensor('float32', data, shape)});
  const t2 = process.hrtime.bigint();
  const ms = (a, b) => Number(b - a) / 1e6;
  console.log(JSON.stringify({load_ms: ms(t0, t1), first_run_ms: ms(t1, t2), load_and_first_ms: ms(t0, t2)}));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
