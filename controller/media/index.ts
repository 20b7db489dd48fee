// The controller's media library: the API the routes use (POST /api/v1/media, GET|HEAD /media/:sha256).
export { MediaLibrary, SHA256_HEX, type IngestMeta, type IngestResult, type MediaLibraryOptions, type MediaStat, type UploadResult, type VisualIngestResult } from './library.js';
export { classifyHead, type HeadClass, type WantedKind } from './classify.js';
export { DEFAULT_VISUAL_LIMITS, IMAGE_FORMATS, VIDEO_CONTAINERS, VIDEO_FORMAT, transcodeImage, transcodeVideo, type VisualLimits } from './visual.js';
export { DEVICE_FORMAT, transcodeToDeviceFormat, type TranscodeOptions, type TranscodeResult } from './transcode.js';
export { DEFAULT_LOUDNESS, type LoudnessTarget } from './loudness.js';
export { sanitizeFileName, sanitizeTitle, MAX_FILE_NAME_LENGTH, MAX_TITLE_LENGTH } from './names.js';
export { planRange, parseRange, IMMUTABLE_CACHE_CONTROL, type RangePlan, type RangeTarget, type RequestHeaders } from './range.js';
export { openFileRange, sendFileRange, type FileRangeOptions, type FileRangeResponse, type SendFileRangeResult } from './serve.js';
export { sniffAudio, sniffHead, ACCEPTED_CONTAINERS, type SniffResult } from './sniff.js';
export { probeMedia, type ProbeResult } from './probe.js';
export { detectMediaTools, type MediaTools } from './tools.js';
