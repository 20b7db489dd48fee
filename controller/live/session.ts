import { createRequire } from 'node:module';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { Encoder, type LiveCodec } from './encoder.js';
import { Fanout } from './fanout.js';
import { Mp3Framer, OggFramer } from './frames.js';

/** The parts of @roamhq/wrtc a session uses (its own typings need the DOM library). */
export interface PeerLike {
  ontrack: ((e: { track: { kind: string } }) => void) | null;
  onconnectionstatechange: (() => void) | null;
  onicegatheringstatechange: (() => void) | null;
  readonly connectionState: string;
  readonly iceGatheringState: string;
  readonly localDescription: { sdp: string; type: string } | null;
  setRemoteDescription(d: { type: 'offer'; sdp: string }): Promise<void>;
  createAnswer(): Promise<{ sdp?: string; type: string }>;
  setLocalDescription(d: { sdp?: string; type: string }): Promise<void>;
  close(): void;
}
export interface AudioData { samples: Int16Array; sampleRate: number; channelCount?: number; bitsPerSample?: number }
export interface AudioSinkLike { ondata: ((d: AudioData) => void) | null; stop(): void }
export interface WebRtc {
  newPeer(): PeerLike;
  audioSink(track: unknown): AudioSinkLike;
}

/** @roamhq/wrtc, loaded on first use so a controller that never goes live does not load the native module. */
export function nodeWebRtc(): WebRtc {
  const w = createRequire(import.meta.url)('@roamhq/wrtc') as {
    RTCPeerConnection: new (c?: unknown) => PeerLike;
    nonstandard: { RTCAudioSink: new (track: unknown) => AudioSinkLike };
  };
  return { newPeer: () => new w.RTCPeerConnection({ iceServers: [] }), audioSink: (t) => new w.nonstandard.RTCAudioSink(t) };
}

export type LiveState = 'waiting' | 'live' | 'ended';

/** The encoder's input: 48 kHz mono s16le. */
export const ENCODER_RATE = 48_000;

/** Downmixes to mono and resamples (linear interpolation) to 48 kHz; a copy, never a view of the caller's memory. */
export function toMono48k(samples: Int16Array, rate: number, channels: number): Int16Array {
  const ch = Math.max(1, channels);
  const frames = Math.floor(samples.length / ch);
  const mono = new Float64Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < ch; c++) sum += samples[i * ch + c]!;
    mono[i] = sum / ch;
  }
  if (rate === ENCODER_RATE) return Int16Array.from(mono, (v) => Math.round(v));
  const n = Math.round((frames * ENCODER_RATE) / rate);
  const out = new Int16Array(n);
  for (let j = 0; j < n; j++) {
    const x = (j * rate) / ENCODER_RATE;
    const i = Math.floor(x);
    const a = mono[Math.min(i, frames - 1)] ?? 0;
    const b = mono[Math.min(i + 1, frames - 1)] ?? a;
    out[j] = Math.round(a + (b - a) * (x - i));
  }
  return out;
}

export interface LiveSessionOptions {
  id: string;
  codec: LiveCodec;
  log: Logger;
  webrtc?: () => WebRtc;
  ffmpeg?: string;
  /** ICE gathering is awaited at most this long before answering. Default 5000 ms. */
  gatherTimeoutMs?: number;
  now?: () => number;
  /** Called once when the session ends, with the reason. */
  onEnd?: (reason: string) => void;
}

/**
 * One live broadcast (issue 6): the operator's WebRTC audio track → PCM (RTCAudioSink) → ffmpeg → the fan-out
 * that GET /live/:id listeners read. end() closes the peer, stops the sink, ends ffmpeg and closes listeners.
 */
export class LiveSession {
  readonly o: LiveSessionOptions;
  readonly fanout: Fanout;
  state: LiveState = 'waiting';
  endReason: string | null = null;
  firstAudioAt: number | null = null;
  /** PCM frames received from the operator (10 ms each from WebRTC). */
  pcmFrames = 0;
  private peer: PeerLike | null = null;
  private sink: AudioSinkLike | null = null;
  private encoder: Encoder | null = null;
  private stopping: Promise<void> | null = null;

  constructor(options: LiveSessionOptions) {
    this.o = options;
    this.fanout = new Fanout({ framer: options.codec === 'opus' ? new OggFramer() : new Mp3Framer(), log: options.log, ...(options.now ? { now: options.now } : {}) });
  }

  get encoderPid(): number | undefined {
    return this.encoder?.pid;
  }

  /** Answers the operator's offer (non-trickle: ICE candidates gathered first, all in the answer's SDP). */
  async answer(offerSdp: string): Promise<string> {
    if (this.state === 'ended') throw new LoaError('LOA_ERR_LIVE_STATE', 'this live session has ended');
    if (this.peer) throw new LoaError('LOA_ERR_LIVE_STATE', 'this live session already has a microphone; start a new one');
    const peer = (this.o.webrtc ?? nodeWebRtc)().newPeer();
    this.peer = peer;
    peer.ontrack = (e) => {
      if (e.track.kind !== 'audio' || this.sink || this.state === 'ended') return;
      const sink = (this.o.webrtc ?? nodeWebRtc)().audioSink(e.track);
      this.sink = sink;
      sink.ondata = (d) => this.pcm(d);
    };
    peer.onconnectionstatechange = () => {
      const s = peer.connectionState;
      if (s === 'failed' || s === 'closed') void this.end(`the operator's connection is ${s}`);
    };
    try {
      await peer.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      await peer.setLocalDescription(await peer.createAnswer());
      await this.gathered(peer);
    } catch (err) {
      // The session stays: the operator may try again with another offer.
      peer.ontrack = null;
      peer.onconnectionstatechange = null;
      peer.close();
      this.peer = null;
      throw new LoaError('LOA_ERR_LIVE_WEBRTC', `the offer could not be answered: ${(err as Error).message}`, { cause: err });
    }
    const sdp = peer.localDescription?.sdp;
    if (!sdp || (this.state as LiveState) === 'ended') throw new LoaError('LOA_ERR_LIVE_WEBRTC', 'no answer was made');
    return sdp;
  }

  /**
   * One PCM frame of the operator's audio (from the RTCAudioSink; tests feed it directly). WebRTC's first frames
   * may come at another rate than the rest (16 kHz before the Opus decoder settles at 48 kHz), so every frame is
   * brought to the encoder's fixed input, 48 kHz mono.
   */
  pcm(d: AudioData): void {
    if (this.state === 'ended' || (d.bitsPerSample ?? 16) !== 16 || d.sampleRate <= 0) return;
    this.pcmFrames++;
    if (!this.encoder) {
      this.firstAudioAt = (this.o.now ?? Date.now)();
      this.state = 'live';
      this.encoder = new Encoder({
        codec: this.o.codec, sampleRate: ENCODER_RATE, channels: 1, log: this.o.log, ...(this.o.ffmpeg ? { ffmpeg: this.o.ffmpeg } : {}),
        onData: (b) => this.fanout.write(b),
        onExit: (reason) => void this.end(reason),
      });
      this.encoder.start();
      this.o.log.info({ session: this.o.id, rate: d.sampleRate, channels: d.channelCount ?? 1 }, 'live audio started');
    }
    const pcm = toMono48k(d.samples, d.sampleRate, d.channelCount ?? 1);
    this.encoder.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  }

  /** Ends the session once (later calls wait for the first); resolves when ffmpeg has exited. */
  end(reason: string): Promise<void> {
    if (this.stopping) return this.stopping;
    this.state = 'ended';
    this.endReason = reason;
    this.sink?.stop();
    if (this.sink) this.sink.ondata = null;
    if (this.peer) {
      this.peer.ontrack = null;
      this.peer.onconnectionstatechange = null;
      this.peer.close();
    }
    this.o.log.info({ session: this.o.id, reason }, 'live session ended');
    this.stopping = (this.encoder?.stop() ?? Promise.resolve()).then(() => {
      this.fanout.end();
    });
    try {
      this.o.onEnd?.(reason);
    } catch (err) {
      this.o.log.error({ err }, 'live onEnd handler threw');
    }
    return this.stopping;
  }

  private gathered(peer: PeerLike): Promise<void> {
    if (peer.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.o.gatherTimeoutMs ?? 5000);
      function done(): void {
        clearTimeout(timer);
        peer.onicegatheringstatechange = null;
        resolve();
      }
      peer.onicegatheringstatechange = () => {
        if (peer.iceGatheringState === 'complete') done();
      };
    });
  }
}
