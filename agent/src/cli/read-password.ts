/**
 * Reading a password for the command line. From a pipe or a file: all of standard input,
 * without one trailing newline (`printf '%s' … |`, `echo … |` and `< file` all work).
 * From a terminal: prompted on standard error, typed without echo, and asked twice.
 */

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    process.stderr.write(prompt);
    input.setRawMode(true);
    input.resume();
    let typed = '';
    const done = (error?: Error): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (error === undefined) resolve(typed);
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003') return done(new Error('interrupted'));
        if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('');
        else if (char >= ' ') typed += char;
      }
    };
    input.on('data', onData);
  });
}

/** The new password, or null when the two typed on a terminal differ. */
export async function readNewPassword(forWhom: string): Promise<string | null> {
  if (process.stdin.isTTY !== true) return readStdin();
  const first = await readHidden(`Password for ${forWhom}: `);
  const second = await readHidden('Again: ');
  return first === second ? first : null;
}
