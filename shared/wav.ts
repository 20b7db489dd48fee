/** A mono 16-bit PCM WAV of a sine tone: for the demo, self-tests and benchmarks (no ffmpeg needed). */
export function toneWav(opts: { seconds: number; hz?: number; rate?: number; amplitude?: number }): Buffer {
  const rate = opts.rate ?? 8000;
  const n = Math.round(opts.seconds * rate);
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(n * 2, 40);
  const amp = (opts.amplitude ?? 0.5) * 32767;
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(amp * Math.sin((2 * Math.PI * (opts.hz ?? 1000) * i) / rate)), 44 + i * 2);
  return buf;
}
