// A plain node `http` server that answers every request, the WebSocket
// upgrade included, with a 503 whose body is sent chunked: node's framing
// when no Content-Length is set.
//
// Usage: node node_reject_503.js PORT_FILE
'use strict';

const fs = require('fs');
const http = require('http');

const portFile = process.argv[2];
const server = http.createServer((req, res) => {
  res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '7' });
  res.write('part one ');
  res.end('part two');
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(`${portFile}.tmp`, `${server.address().port}\n`);
  fs.renameSync(`${portFile}.tmp`, portFile);
});
