import { fileTypeFromBuffer } from 'file-type';
import { LoaError } from '../../shared/errors.js';
import { sniffHead } from './sniff.js';
import { IMAGE_FORMATS, VIDEO_CONTAINERS } from './visual.js';

/** What an upload is meant to be: `auto` lets its bytes decide. */
export type WantedKind = 'auto' | 'audio' | 'image' | 'video';

/**
 * The first decision on an upload, from its first bytes only (the client's name and type play no part):
 * - `audio`: an audio container (sniff.ts), with its demuxer;
 * - `image`: PNG, JPEG or WebP, by file-type's `ext`;
 * - `video`: a video container, with its demuxer;
 * - `audio-or-video` (auto only): a container that holds either; ffprobe decides once the file is in
 *   (a picture and no sound is a video; anything with sound stays audio, as before issue 8's media).
 */
export type HeadClass =
  | { kind: 'audio' }
  | { kind: 'image'; ext: string; mime: string }
  | { kind: 'video' | 'audio-or-video'; ext: string; mime: string; demuxer: string };

const text = (head: Uint8Array): string => Buffer.from(head.subarray(0, 1024)).toString('latin1');
/** SVG is text (file-type names it xml or nothing); it is refused by name so the error says what it was. */
const looksSvg = (head: Uint8Array): boolean => /<svg[\s>]/i.test(text(head));

function notImage(detected: string | undefined): LoaError {
  return new LoaError('LOA_ERR_MEDIA_NOT_IMAGE', detected ? `The file is ${detected}; only PNG, JPEG and WebP images are accepted` : 'The file is not a PNG, JPEG or WebP image', detected ? { details: { detected } } : {});
}

/** Classifies the first bytes of an upload; rejects with LOA_ERR_MEDIA_NOT_AUDIO / _NOT_IMAGE / _NOT_VIDEO. */
export async function classifyHead(head: Uint8Array, want: WantedKind): Promise<HeadClass> {
  if (want === 'audio') {
    await sniffHead(head);
    return { kind: 'audio' };
  }
  const type = await fileTypeFromBuffer(head);
  const svg = looksSvg(head) ? 'image/svg+xml' : undefined;
  if (type && IMAGE_FORMATS[type.ext] && (want === 'image' || want === 'auto')) return { kind: 'image', ext: type.ext, mime: type.mime };
  if (want === 'image') throw notImage(svg ?? type?.mime);
  const demuxer = type ? VIDEO_CONTAINERS[type.ext] : undefined;
  if (type && demuxer) return { kind: want === 'video' ? 'video' : 'audio-or-video', ext: type.ext, mime: type.mime, demuxer };
  if (want === 'video') {
    throw new LoaError('LOA_ERR_MEDIA_NOT_VIDEO', `The file is ${svg ?? type?.mime ?? 'not a known format'}; videos are accepted as MP4, MOV, WebM or MKV`, { details: { detected: svg ?? type?.mime } });
  }
  // auto: another picture type (SVG, GIF, BMP, TIFF, HEIC…) is named as such; anything else must be audio.
  if (svg || type?.mime.startsWith('image/')) throw notImage(svg ?? type?.mime);
  await sniffHead(head);
  return { kind: 'audio' };
}
