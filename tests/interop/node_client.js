// node's ws as a client against an echo server.
//
// Usage: node node_client.js URL   (with ws on NODE_PATH)
//
// Sends text (ASCII, non-ASCII, empty, 64 KiB), binary (small, empty,
// 64 KiB) and fragmented messages (one text message with a character split
// between fragments), checks each echo exactly, pings, closes with 1000 and
// checks the server's Close. One line per check; exit 1 at the first failure.
'use strict';

const WebSocket = require('ws');

const url = process.argv[2];
const TIMEOUT_MS = 10000;

function fail(message) {
  console.log(`FAIL ${message}`);
  process.exit(1);
}

function describe(data, isBinary) {
  const kind = isBinary ? 'binary' : 'text';
  const shown = isBinary ? data.toString('hex') : JSON.stringify(data.toString('utf8'));
  return data.length > 40 ? `${kind} of ${data.length}` : `${kind} ${shown}`;
}

const binaryPattern = Buffer.alloc(65536);
for (let i = 0; i < binaryPattern.length; i++) binaryPattern[i] = i % 251;

// Each case: the frames to send as [payload, binary, fin], and the echo.
const cases = [
  { frames: [[Buffer.from('hello'), false, true]], echo: Buffer.from('hello'), binary: false },
  { frames: [[Buffer.from('héllo wörld ✓ 𝄞'), false, true]], echo: Buffer.from('héllo wörld ✓ 𝄞'), binary: false },
  { frames: [[Buffer.alloc(0), false, true]], echo: Buffer.alloc(0), binary: false },
  { frames: [[Buffer.alloc(65536, 'y'), false, true]], echo: Buffer.alloc(65536, 'y'), binary: false },
  { frames: [[Buffer.from([0, 1, 2, 0xfe, 0xff]), true, true]], echo: Buffer.from([0, 1, 2, 0xfe, 0xff]), binary: true },
  { frames: [[Buffer.alloc(0), true, true]], echo: Buffer.alloc(0), binary: true },
  { frames: [[binaryPattern, true, true]], echo: binaryPattern, binary: true },
  {
    // "é" is C3 A9: its two bytes go in different fragments.
    frames: [
      [Buffer.from([0x48, 0xc3]), false, false],
      [Buffer.alloc(0), false, false],
      [Buffer.from([0xa9, 0x6c, 0x6c, 0x6f]), false, true],
    ],
    echo: Buffer.from('Héllo'),
    binary: false,
  },
  {
    frames: [
      [Buffer.from([1, 2]), true, false],
      [Buffer.from([3]), true, true],
    ],
    echo: Buffer.from([1, 2, 3]),
    binary: true,
  },
];

const timer = setTimeout(() => fail(`no progress within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
const ws = new WebSocket(url);
let index = 0;

function sendCase() {
  for (const [payload, binary, fin] of cases[index].frames) {
    ws.send(payload, { binary, fin });
  }
}

ws.on('error', (error) => fail(`error: ${error.message}`));
ws.on('open', () => {
  console.log('ok open');
  sendCase();
});
ws.on('message', (data, isBinary) => {
  const expected = cases[index];
  if (isBinary !== expected.binary || !data.equals(expected.echo)) {
    fail(`echo ${index}: got ${describe(data, isBinary)}, expected ${describe(expected.echo, expected.binary)}`);
  }
  console.log(`ok echo of ${describe(expected.echo, expected.binary)}${expected.frames.length > 1 ? ' (fragmented)' : ''}`);
  index += 1;
  if (index < cases.length) {
    sendCase();
  } else {
    ws.ping(Buffer.from('node-ping'));
  }
});
ws.on('pong', (data) => {
  if (data.toString() !== 'node-ping') fail(`pong payload ${JSON.stringify(data.toString())}`);
  console.log('ok pong for ping');
  ws.close(1000, 'node done');
});
ws.on('close', (code, reason) => {
  clearTimeout(timer);
  if (index < cases.length) fail(`closed after ${index} of ${cases.length} echoes`);
  if (code !== 1000) fail(`server's Close code ${code}, expected 1000`);
  console.log(`ok server's Close is ${code} ${JSON.stringify(reason.toString())}`);
  process.exit(0);
});
