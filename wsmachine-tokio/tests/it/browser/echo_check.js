// Evaluated by tests/it/browser.rs in the page that axum_echo serves at `/`,
// as `(this function)(sizes)`. It uses the page the way a person would (the
// form, then the lines in #log), then opens a socket of its own to `/ws`,
// sends a text and a binary message of each size, checks that every echo
// equals what was sent, and closes with 4000 "bye". It resolves to a plain
// object that the Rust test asserts on; it never decides pass or fail
// itself. Each step it takes is also added to #log, for the screenshot.
async (sizes) => {
  const STEP_MS = 15000;
  const logElement = document.getElementById("log");
  const note = (line) => { logElement.textContent += "check: " + line + "\n"; };
  const logLines = () => logElement.textContent.split("\n");

  const until = async (what, ready) => {
    const deadline = performance.now() + STEP_MS;
    while (!ready()) {
      if (performance.now() > deadline) throw new Error("timed out waiting for " + what);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const within = (what, promise) => Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error("timed out waiting for " + what)), STEP_MS)),
  ]);

  // The page's own socket, through its form.
  await until("the page's socket to open", () => logLines().includes("open"));
  const typed = "héllo, wörld €";
  document.getElementById("text").value = typed;
  document.getElementById("form").requestSubmit();
  await until("the page's echo", () => logLines().includes("echo: " + typed));
  const page = { title: document.title, typed, log: logLines().filter((line) => line !== "") };

  // Exactly `len` bytes of UTF-8 mixing one- to four-byte characters, with
  // "." where the next character would not fit.
  const utf8Length = (text) => new TextEncoder().encode(text).length;
  const pieces = ["a", "é", "€", "😀", "z"].map((piece) => [piece, utf8Length(piece)]);
  const textOfLen = (len) => {
    const parts = [];
    let bytes = 0;
    for (let i = 0; bytes < len; i++) {
      const [piece, size] = pieces[i % pieces.length];
      const fits = bytes + size <= len;
      parts.push(fits ? piece : ".");
      bytes += fits ? size : 1;
    }
    return parts.join("");
  };
  const binaryOfLen = (len, seed) => {
    const data = new Uint8Array(len);
    for (let i = 0; i < len; i++) data[i] = (i * 7 + seed) % 251;
    return data;
  };
  const sameBytes = (a, b) => a.length === b.length && a.every((byte, i) => byte === b[i]);

  const socket = new WebSocket(`ws://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  const inbox = [];
  let wake = null;
  socket.onmessage = (event) => { inbox.push(event.data); if (wake) wake(); };
  const closed = new Promise((resolve) => {
    socket.onclose = (event) => resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
  });
  const nextMessage = (what) => within(what, new Promise((resolve) => {
    const take = () => { wake = null; resolve(inbox.shift()); };
    if (inbox.length > 0) take(); else wake = take;
  }));
  await within("the check's socket to open", new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error("the check's socket failed to open"));
  }));
  note(`open, extensions "${socket.extensions}", protocol "${socket.protocol}"`);

  const echoes = [];
  for (const size of sizes) {
    const text = textOfLen(size);
    let sentAt = performance.now();
    socket.send(text);
    const textEcho = await nextMessage(`the echo of ${size} bytes of text`);
    const textOk = typeof textEcho === "string" && textEcho === text;
    echoes.push({
      kind: "text",
      size,
      sentBytes: utf8Length(text),
      echoedBytes: typeof textEcho === "string" ? utf8Length(textEcho) : -1,
      equal: textOk,
      ms: Math.round(performance.now() - sentAt),
    });
    note(`text ${size} B: ${textOk ? "echo equal" : "ECHO DIFFERS"}`);

    const data = binaryOfLen(size, size % 251);
    sentAt = performance.now();
    socket.send(data);
    const binaryEcho = await nextMessage(`the echo of ${size} bytes of binary`);
    const echoed = binaryEcho instanceof ArrayBuffer ? new Uint8Array(binaryEcho) : null;
    const binaryOk = echoed !== null && sameBytes(echoed, data);
    echoes.push({
      kind: "binary",
      size,
      sentBytes: data.length,
      echoedBytes: echoed === null ? -1 : echoed.length,
      equal: binaryOk,
      ms: Math.round(performance.now() - sentAt),
    });
    note(`binary ${size} B: ${binaryOk ? "echo equal" : "ECHO DIFFERS"}`);
  }

  const extensions = socket.extensions;
  const protocol = socket.protocol;
  socket.close(4000, "bye");
  const close = await within("the close event", closed);
  note(`closed: ${close.code} "${close.reason}" wasClean=${close.wasClean}`);
  return { page, extensions, protocol, echoes, close };
}
