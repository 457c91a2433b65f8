// node's ws as an echo server on 127.0.0.1 and a free port.
//
// Usage: node node_echo_server.js PORT_FILE   (with ws on NODE_PATH)
//
// Writes the port to PORT_FILE once listening, then echoes every message
// with its type until killed.
'use strict';

const fs = require('fs');
const { WebSocketServer } = require('ws');

const portFile = process.argv[2];
const server = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => {
  // Written whole and renamed, so a reader never sees half a port.
  fs.writeFileSync(`${portFile}.tmp`, `${server.address().port}\n`);
  fs.renameSync(`${portFile}.tmp`, portFile);
});
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
