import type { Clock } from '../../shared/clock.js';
import { LoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { AudioSink } from '../../shared/player.js';
import type { HardwareProfile } from '../../shared/schemas/hardware-profile.js';
import { AlsaSink, type AlsaSinkOptions } from './alsa-sink.js';
import type { SpawnFn } from './child-run.js';
import { FileSink } from './file-sink.js';
import { NullSink } from './null-sink.js';
import type { StreamReader } from './stream-reader.js';

export type AudioConfigValue = HardwareProfile['audio'];

export interface AudioSinkDeps {
  clock: Clock;
  log: Logger;
  /** Directory of the file sink. Default: audio.device when the driver is 'file'. */
  fileDir?: string;
  spawn?: SpawnFn;
  ffmpegPath?: string;
  checkDevice?: AlsaSinkOptions['checkDevice'];
  streamReader?: StreamReader;
}

/**
 * The audio sink a hardware profile asks for: 'alsa' → AlsaSink on audio.device, 'file' → FileSink recording
 * into deps.fileDir (or the directory named by audio.device), 'none' → NullSink.
 */
export function createAudioSink(audio: Pick<AudioConfigValue, 'driver' | 'device'>, deps: AudioSinkDeps): AudioSink {
  const { clock, log } = deps;
  switch (audio.driver) {
    case 'alsa':
      return new AlsaSink({
        device: audio.device,
        clock,
        log,
        ...(deps.spawn ? { spawn: deps.spawn } : {}),
        ...(deps.ffmpegPath ? { ffmpegPath: deps.ffmpegPath } : {}),
        ...(deps.checkDevice ? { checkDevice: deps.checkDevice } : {}),
        ...(deps.streamReader ? { streamReader: deps.streamReader } : {}),
      });
    case 'file': {
      const dir = deps.fileDir ?? audio.device;
      if (!dir || dir === 'default') {
        throw new LoaError('LOA_ERR_PROFILE_INVALID', 'The file audio driver needs a directory (audio.device or the fileDir option)');
      }
      return new FileSink({ dir, clock, log, ...(deps.streamReader ? { streamReader: deps.streamReader } : {}) });
    }
    case 'none':
      return new NullSink({ clock });
  }
}
