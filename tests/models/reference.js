// Runs a model with onnxruntime-node (CPU provider) on the raw inputs listed in CASE_DIR/inputs.json
// and writes the raw outputs plus CASE_DIR/outputs.json (name, dims, element type, file). Usage: node reference.js MODEL CASE_DIR
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const [modelPath, caseDir] = process.argv.slice(2);
  const inputs = JSON.parse(fs.readFileSync(path.join(caseDir, 'inputs.json')));
  const session = await ort.InferenceSession.create(modelPath, {intraOpNumThreads: 1});
  const feeds = {};
  for (const inp of inputs) {
    const buf = fs.readFileSync(inp.file);
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    feeds[inp.name] = new ort.Tensor('float32', data, inp.dims);
  }
  const results = await session.run(feeds);
  const meta = [];
  session.outputNames.forEach((name, idx) => {
    const t = results[name];
    const file = path.join(caseDir, `output_${idx}.bin`);
    fs.writeFileSync(file, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    meta.push({name, dims: t.dims, type: t.type, file});
  });
  fs.writeFileSync(path.join(caseDir, 'outputs.json'), JSON.stringify(meta));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
