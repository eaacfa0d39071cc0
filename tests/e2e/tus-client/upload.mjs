// upload.mjs — drive the real tus-js-client (npm) against partaged for
// tests/e2e/test_36_tus_client.py.  One JSON object per line on stdout:
//   {"event":"progress","bytes":N,"total":N}      (every 2 MiB or so)
//   {"event":"response","method":"PATCH","status":204,"offset":"..."}
//   {"event":"aborted","bytes":N,"url":"..."}     then exit 3
//   {"event":"success","url":"...","id":"...","partageUrl":"..."}  exit 0
//   {"event":"error","message":"..."}             exit 1 (4: nothing to resume)
//
//   node upload.mjs --endpoint URL --file PATH --store STATE.json
//        [--chunk-size BYTES] [--parallel N] [--abort-at BYTES] [--resume]
//
// Resuming uses the library's own machinery: the fingerprint of the input
// and a FileUrlStorage (--store) that remembers the upload URL (or, with
// parallelUploads, the partial uploads' URLs) across processes.
import { readFileSync } from 'node:fs';
import { Upload, FileUrlStorage } from 'tus-js-client';

function args(argv) {
  const out = { chunkSize: 4 << 20, parallel: 1, abortAt: -1, resume: false };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--endpoint') out.endpoint = next();
    else if (a === '--file') out.file = next();
    else if (a === '--store') out.store = next();
    else if (a === '--chunk-size') out.chunkSize = Number(next());
    else if (a === '--parallel') out.parallel = Number(next());
    else if (a === '--abort-at') out.abortAt = Number(next());
    else if (a === '--resume') out.resume = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!out.endpoint || !out.file || !out.store) throw new Error('need --endpoint, --file and --store');
  return out;
}

const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const opt = args(process.argv);
const data = readFileSync(opt.file);
let aborted = false;
let lastReported = -1;

const upload = new Upload(data, {
  endpoint: opt.endpoint,
  chunkSize: opt.chunkSize,
  parallelUploads: opt.parallel,
  // the library's defaults, spelled out: a restarted server has ~9 s
  retryDelays: [0, 1000, 3000, 5000],
  metadata: { filename: 'tus-js-client.bin', filetype: 'application/octet-stream' },
  urlStorage: new FileUrlStorage(opt.store),
  storeFingerprintForResuming: true,
  removeFingerprintOnSuccess: false,
  onAfterResponse(req, res) {
    say({
      event: 'response',
      method: req.getMethod(),
      url: req.getURL(),
      status: res.getStatus(),
      offset: res.getHeader('Upload-Offset') ?? null,
    });
  },
  onProgress(bytes, total) {
    if (bytes - lastReported >= 2 << 20 || bytes === total) {
      lastReported = bytes;
      say({ event: 'progress', bytes, total });
    }
    if (opt.abortAt >= 0 && bytes >= opt.abortAt && !aborted) {
      aborted = true;
      // abort(false): stop the requests in flight, keep the upload
      upload.abort(false).then(() => {
        say({ event: 'aborted', bytes, url: upload.url ?? null });
        // let the url storage settle, then leave
        setTimeout(() => process.exit(3), 200);
      });
    }
  },
  onError(err) {
    say({ event: 'error', message: String(err && err.message ? err.message : err) });
    process.exit(1);
  },
  onSuccess(payload) {
    const res = payload && payload.lastResponse;
    say({
      event: 'success',
      url: upload.url,
      id: res ? res.getHeader('X-Partage-Id') ?? null : null,
      partageUrl: res ? res.getHeader('X-Partage-Url') ?? null : null,
    });
    process.exit(0);
  },
});

if (opt.resume) {
  const prev = await upload.findPreviousUploads();
  if (!prev.length) {
    say({ event: 'error', message: 'no previous upload in ' + opt.store });
    process.exit(4);
  }
  upload.resumeFromPreviousUpload(prev[0]);
}
upload.start();
