// server.mjs — the reference tus server of bench/tus.sh: @tus/server with
// @tus/file-store on plain node:http, default options.
//   node server.mjs PORT DIRECTORY
// One change for the load generator: a HEAD reply gets Content-Length: 0.
// @tus/server sends HEAD replies with neither Content-Length nor chunked
// encoding, and wrk (which does not track that its request was a HEAD)
// would wait for a body until the connection closes.
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const [port, directory] = process.argv.slice(2);
if (!port || !directory) {
  console.error('usage: node server.mjs PORT DIRECTORY');
  process.exit(2);
}
const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
http
  .createServer((req, res) => {
    if (req.method === 'HEAD') res.setHeader('Content-Length', '0');
    tus.handle(req, res);
  })
  .listen(Number(port), '127.0.0.1', () => {
    console.log(`@tus/server listening on http://127.0.0.1:${port}/files (store ${directory})`);
  });
