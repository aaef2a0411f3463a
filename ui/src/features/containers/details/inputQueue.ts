// Keystrokes in order: each IPC call is handled on its own task, so calls made one per key can
// reach the engine out of order (seen as "trem" for "term" on a loaded machine). The queue
// sends one call at a time and joins whatever was typed meanwhile into the next.

/** Returns `push(data)`, which sends through `send` strictly in order; the first failure calls `onError` and drops the rest. */
export function inputQueue(send: (data: string) => Promise<unknown>, onError: (e: unknown) => void): (data: string) => void {
  let pending = "";
  let sending = false;
  let failed = false;
  const drain = async () => {
    sending = true;
    while (pending && !failed) {
      const data = pending;
      pending = "";
      try {
        await send(data);
      } catch (e) {
        failed = true;
        pending = "";
        onError(e);
      }
    }
    sending = false;
  };
  return (data) => {
    if (failed) return;
    pending += data;
    if (!sending) void drain();
  };
}
