// onnxruntime-node's outputs for every step of a stateful case from export_models.py: fresh
// inputs from step_<t>_<name>.bin, states zero at step 0 and then the previous step's outputs;
// writes ort_<t>_<output>.bin. Usage: node ort_steps.js CASE_DIR
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const types = {f32: ['float32', Float32Array], i64: ['int64', BigInt64Array]};

async function main() {
  const dir = process.argv[2];
  const spec = fs.readFileSync(path.join(dir, 'spec.txt'), 'utf8').trim().split('\n')
      .map((l) => l.split(' '));
  const steps = Number(spec.find((l) => l[0] === 'steps')[1]);
  const inputs = spec.filter((l) => l[0] === 'input' || l[0] === 'state').map((l) => ({
    kind: l[0], name: l[1], type: l[2],
    dims: l.slice(3, l[0] === 'state' ? -1 : undefined).map(Number),
    from: l[0] === 'state' ? l[l.length - 1] : null,
  }));
  const outputs = spec.filter((l) => l[0] === 'output').map((l) => l[1]);
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'),
                                                    {intraOpNumThreads: 1});
  let previous = null;
  for (let t = 0; t < steps; ++t) {
    const feeds = {};
    for (const inp of inputs) {
      const [type, Typed] = types[inp.type];
      if (inp.kind === 'state') {
        const size = inp.dims.reduce((a, b) => a * b, 1);
        feeds[inp.name] = previous ? previous[inp.from] : new ort.Tensor(type, new Typed(size), inp.dims);
      } else {
        const buf = fs.readFileSync(path.join(dir, `step_${t}_${inp.name}.bin`));
        const data = new Typed(buf.buffer, buf.byteOffset, buf.byteLength / Typed.BYTES_PER_ELEMENT);
        feeds[inp.name] = new ort.Tensor(type, data, inp.dims);
      }
    }
    const results = await session.run(feeds);
    for (const name of outputs) {
      const d = results[name].data;
      fs.writeFileSync(path.join(dir, `ort_${t}_${name}.bin`),
                       Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    }
    previous = results;
  }
}
main().catch((e) => { console.error(e.message); process.exit(1); });
