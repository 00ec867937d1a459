// make bench: one generator exported by export.py, run by ONNX Runtime's bundled CPU build with
// 2 intra-op threads (the machine's cores), batch 1; prints the median time of RUNS runs in ms
// after 2 warm-up runs.
//   node bench/onnx/ort_bench.js MODEL.onnx SIZE RUNS
'use strict';
const ort = require('onnxruntime-node');

async function main() {
  const [model, sizeArg, runsArg] = process.argv.slice(2);
  const size = Number(sizeArg);
  const runs = Number(runsArg || 9);
  if (!model || !(size > 0) || !(runs > 0)) {
    console.error('usage: node ort_bench.js MODEL.onnx SIZE RUNS');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  });
  const input = new Float32Array(3 * size * size);
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i) * 0.9; // any picture will do
  const feeds = { input: new ort.Tensor('float32', input, [1, 3, size, size]) };
  for (let i = 0; i < 2; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(times[Math.floor(runs / 2)].toFixed(3));
}

main().catch((e) => {
  console.error(`ort_bench: ${e.message}`);
  process.exit(1);
});
