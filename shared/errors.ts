/**
 * The one table of coded errors (DESIGN §6). A code is never reused: retire a code by marking it, never by
 * giving it a new meaning. Messages are for technicians; `vi` is what the Vietnamese UI shows.
 */
export const ERRORS = {
  LOA_ERR_INTERNAL: { en: 'Internal error', vi: 'Lỗi nội bộ' },
  LOA_ERR_CONFIG_INVALID: { en: 'The configuration file is invalid', vi: 'Tệp cấu hình không hợp lệ' },
  LOA_ERR_CONFIG_NOT_FOUND: { en: 'The configuration file was not found', vi: 'Không tìm thấy tệp cấu hình' },
  LOA_ERR_JSON_PARSE: { en: 'The input is not valid JSON', vi: 'Dữ liệu không phải JSON hợp lệ' },
  LOA_ERR_INPUT_TOO_LARGE: { en: 'The input is larger than allowed', vi: 'Dữ liệu vượt quá kích thước cho phép' },
  LOA_ERR_SCHEMA: { en: 'The input does not match its schema', vi: 'Dữ liệu không đúng định dạng' },

  LOA_ERR_CRYPTO: { en: 'Signature or key check failed', vi: 'Kiểm tra chữ ký hoặc khóa thất bại' },
  LOA_ERR_KEY_FILE: { en: 'A key file could not be read', vi: 'Không đọc được tệp khóa' },

  LOA_ERR_ROOT_INVALID: { en: 'The trust root metadata is invalid', vi: 'Siêu dữ liệu khóa gốc không hợp lệ' },
  LOA_ERR_ROOT_ROLLBACK: { en: 'The trust root version is not newer than the current one', vi: 'Phiên bản khóa gốc không mới hơn phiên bản hiện tại' },
  LOA_ERR_ROOT_THRESHOLD: { en: 'The trust root is not signed by enough keys', vi: 'Khóa gốc không đủ số chữ ký yêu cầu' },
  LOA_ERR_ROOT_EXPIRED: { en: 'The trust root metadata has expired', vi: 'Siêu dữ liệu khóa gốc đã hết hạn' },

  LOA_ERR_MANIFEST_SIGNATURE: { en: 'The manifest signature is not valid', vi: 'Chữ ký lịch phát không hợp lệ' },
  LOA_ERR_MANIFEST_UNKNOWN_KEY: { en: 'The manifest is signed by an unknown key', vi: 'Lịch phát được ký bằng khóa không xác định' },
  LOA_ERR_MANIFEST_REVOKED_KEY: { en: 'The manifest is signed by a revoked key', vi: 'Lịch phát được ký bằng khóa đã thu hồi' },
  LOA_ERR_MANIFEST_THRESHOLD: { en: 'The manifest has fewer valid signatures than required', vi: 'Lịch phát không đủ số chữ ký hợp lệ' },
  LOA_ERR_MANIFEST_WRONG_DEVICE: { en: 'The manifest is for another device', vi: 'Lịch phát dành cho thiết bị khác' },
  LOA_ERR_MANIFEST_ROLLBACK: { en: 'The manifest version is not newer than the current one (rollback or replay)', vi: 'Phiên bản lịch phát không mới hơn (quay lui hoặc phát lại)' },
  LOA_ERR_MANIFEST_EXPIRED: { en: 'The manifest has already expired', vi: 'Lịch phát đã hết hạn' },
  LOA_ERR_MANIFEST_INVALID: { en: 'The manifest is malformed', vi: 'Lịch phát sai định dạng' },
  LOA_ERR_MANIFEST_TOO_LARGE: { en: 'The manifest is larger than allowed', vi: 'Lịch phát vượt quá kích thước cho phép' },
  LOA_ERR_MANIFEST_MEDIA_MISSING: { en: 'Media referenced by the manifest is missing', vi: 'Thiếu tệp âm thanh mà lịch phát cần' },

  LOA_ERR_MEDIA_HASH_MISMATCH: { en: 'The media file does not match its sha256', vi: 'Tệp âm thanh không khớp mã băm sha256' },
  LOA_ERR_MEDIA_SIZE_MISMATCH: { en: 'The media file does not have the expected size', vi: 'Tệp âm thanh sai kích thước' },
  LOA_ERR_MEDIA_NOT_FOUND: { en: 'The media file was not found', vi: 'Không tìm thấy tệp âm thanh' },

  LOA_ERR_PROFILE_INVALID: { en: 'The hardware profile is invalid', vi: 'Hồ sơ phần cứng không hợp lệ' },
  LOA_ERR_PROFILE_UNKNOWN_RELAY: { en: 'The hardware profile names an unknown relay type', vi: 'Hồ sơ phần cứng có loại rơ-le không xác định' },
  LOA_ERR_AUDIO_DEVICE_NOT_FOUND: { en: 'The ALSA audio device does not exist', vi: 'Không tìm thấy thiết bị âm thanh ALSA' },

  LOA_ERR_SERIAL_PORT_MISSING: { en: 'The serial port does not exist', vi: 'Không tìm thấy cổng nối tiếp (serial)' },
  LOA_ERR_SERIAL_IO: { en: 'Serial communication with the relay board failed', vi: 'Lỗi giao tiếp với bảng rơ-le qua cổng nối tiếp' },
  LOA_ERR_RELAY_READBACK: { en: 'The relay state read back differs from what was set', vi: 'Trạng thái rơ-le đọc lại khác với trạng thái đã đặt' },
  LOA_ERR_RELAY_TIMEOUT: { en: 'The relay board did not answer in time', vi: 'Bảng rơ-le không phản hồi kịp thời' },
  LOA_ERR_GPIO: { en: 'GPIO access failed', vi: 'Lỗi truy cập GPIO' },
  LOA_ERR_GPIO_UNAVAILABLE: { en: 'libgpiod is not available on this system', vi: 'Hệ thống không có thư viện libgpiod' },

  LOA_ERR_PLAYER_SPAWN: { en: 'The audio player could not be started', vi: 'Không khởi động được trình phát âm thanh' },
  LOA_ERR_PLAYER_FAILED: { en: 'Playback failed', vi: 'Phát âm thanh thất bại' },
  LOA_ERR_STREAM_GAP: { en: 'The relayed stream dropped and was reconnected', vi: 'Luồng tiếp sóng bị gián đoạn và đã kết nối lại' },
  LOA_ERR_STREAM_UNREACHABLE: { en: 'The relayed stream could not be reached', vi: 'Không kết nối được luồng tiếp sóng' },

  LOA_ERR_STORE_CORRUPT: { en: 'The local database is corrupt', vi: 'Cơ sở dữ liệu cục bộ bị hỏng' },
  LOA_ERR_STORE_MIGRATION: { en: 'The local database could not be migrated', vi: 'Không nâng cấp được cơ sở dữ liệu cục bộ' },
  LOA_ERR_STORE_NEWER: { en: 'The local database was made by a newer agent', vi: 'Cơ sở dữ liệu cục bộ do phiên bản mới hơn tạo ra' },

  LOA_ERR_BUNDLE_INVALID: { en: 'The offline bundle is incomplete or invalid', vi: 'Gói dữ liệu ngoại tuyến thiếu hoặc không hợp lệ' },
  LOA_ERR_DEVICE_ID_MISSING: { en: 'The device has no identity yet', vi: 'Thiết bị chưa có định danh' },

  // controller: HTTP boundary, auth and RBAC
  LOA_ERR_NOT_FOUND: { en: 'Not found', vi: 'Không tìm thấy' },
  LOA_ERR_UNAUTHENTICATED: { en: 'Sign in first', vi: 'Vui lòng đăng nhập' },
  LOA_ERR_LOGIN_FAILED: { en: 'Wrong user name or password', vi: 'Sai tên đăng nhập hoặc mật khẩu' },
  LOA_ERR_RATE_LIMITED: { en: 'Too many attempts; wait a moment and try again', vi: 'Thử quá nhiều lần; vui lòng đợi rồi thử lại' },
  LOA_ERR_FORBIDDEN: { en: 'You do not have the right to do this here', vi: 'Bạn không có quyền thực hiện thao tác này tại đây' },
  LOA_ERR_CONFLICT: { en: 'This conflicts with existing data', vi: 'Dữ liệu bị trùng hoặc xung đột' },
  LOA_ERR_NAME_INVALID: { en: 'The name contains characters that are not allowed', vi: 'Tên chứa ký tự không được phép' },
  LOA_ERR_UNSUPPORTED_MEDIA_TYPE: { en: 'The request body type is not supported', vi: 'Kiểu dữ liệu gửi lên không được hỗ trợ' },

  // controller: zones, devices, enrollment
  LOA_ERR_ZONE_HIERARCHY: { en: 'The zone does not fit under that parent (province › district › commune › cluster)', vi: 'Địa bàn không phù hợp với cấp cha (tỉnh › huyện › xã › cụm)' },
  LOA_ERR_ZONE_NOT_EMPTY: { en: 'The zone still has sub-zones, devices or content', vi: 'Địa bàn vẫn còn địa bàn con, thiết bị hoặc nội dung' },
  LOA_ERR_CSV_INVALID: { en: 'The CSV file is invalid', vi: 'Tệp CSV không hợp lệ' },
  LOA_ERR_ENROLL_TOKEN: { en: 'The enrollment token is unknown, used or expired', vi: 'Mã đăng ký thiết bị không đúng, đã dùng hoặc đã hết hạn' },
  LOA_ERR_DEVICE_REVOKED: { en: 'The device has been revoked', vi: 'Thiết bị đã bị thu hồi' },
  LOA_ERR_DEVICE_NOT_ENROLLED: { en: 'The device is not enrolled yet', vi: 'Thiết bị chưa được đăng ký' },
  LOA_ERR_KEYS_MISSING: { en: 'The controller signing keys are missing', vi: 'Thiếu khóa ký của hệ thống điều khiển' },

  // controller: media
  LOA_ERR_MEDIA_NOT_AUDIO: { en: 'The file is not audio', vi: 'Tệp không phải âm thanh' },
  LOA_ERR_MEDIA_TRANSCODE: { en: 'The audio could not be converted', vi: 'Không chuyển đổi được tệp âm thanh' },
  LOA_ERR_MEDIA_IN_USE: { en: 'The media is used by a program', vi: 'Tệp âm thanh đang được dùng trong chương trình' },
  LOA_ERR_RANGE_NOT_SATISFIABLE: { en: 'The requested byte range is outside the file', vi: 'Khoảng byte yêu cầu nằm ngoài tệp' },
  LOA_ERR_TOOL_MISSING: { en: 'A required system tool is not installed', vi: 'Thiếu công cụ hệ thống cần thiết' },

  // controller: programs, schedules, approval
  LOA_ERR_RRULE_INVALID: { en: 'The repeat rule (RRULE) is invalid', vi: 'Quy tắc lặp lại (RRULE) không hợp lệ' },
  LOA_ERR_RRULE_UNBOUNDED: { en: 'The schedule never ends: give an end date (UNTIL, COUNT or valid until)', vi: 'Lịch không có ngày kết thúc: hãy đặt ngày kết thúc' },
  LOA_ERR_RRULE_TOO_FREQUENT: { en: 'The schedule repeats too often', vi: 'Lịch lặp lại quá dày' },
  LOA_ERR_SCHEDULE_NIGHT_UNCONFIRMED: { en: 'The schedule plays at night (22:00–05:00); confirm it explicitly', vi: 'Lịch phát vào ban đêm (22:00–05:00); cần xác nhận rõ ràng' },
  LOA_ERR_WORKFLOW_STATE: { en: 'This step is not possible in the current approval state', vi: 'Không thể thực hiện bước này ở trạng thái phê duyệt hiện tại' },
  LOA_ERR_NOT_APPROVER: { en: 'You do not have approval rights for this zone', vi: 'Bạn không có quyền phê duyệt cho địa bàn này' },
  LOA_ERR_PROGRAM_NOT_APPROVED: { en: 'The program is not approved yet', vi: 'Chương trình chưa được phê duyệt' },

  // MQTT boundary and device sync
  LOA_ERR_MQTT_PAYLOAD: { en: 'The MQTT message is invalid', vi: 'Bản tin MQTT không hợp lệ' },
  LOA_ERR_MQTT_FORBIDDEN: { en: 'The MQTT topic is not allowed for this client', vi: 'Chủ đề MQTT không được phép với thiết bị này' },
  LOA_ERR_SYNC_HTTP: { en: 'The controller could not be reached or refused the request', vi: 'Không kết nối được hệ thống điều khiển hoặc bị từ chối' },
  LOA_ERR_SYNC_DOWNLOAD: { en: 'A media download failed; it will resume', vi: 'Tải tệp âm thanh thất bại; sẽ tải tiếp' },
  LOA_ERR_ENROLL_FAILED: { en: 'Enrollment with the controller failed', vi: 'Đăng ký thiết bị với hệ thống điều khiển thất bại' },
  // --- codes added later go below this line, one section per issue ---
  // agent sync (MQTT link)
  LOA_ERR_SYNC_MQTT: { en: 'The MQTT connection to the controller is down or was refused; it will retry', vi: 'Mất kết nối MQTT tới hệ thống điều khiển hoặc bị từ chối; sẽ thử lại' },
  // controller media library
  LOA_ERR_MEDIA_SILENT: { en: 'The audio is silent', vi: 'Tệp âm thanh không có tiếng' },
  // controller schedules: recurrence validation and preview
  LOA_ERR_SCHEDULE_NEVER_PLAYS: { en: 'The schedule never plays: no occurrence falls between its start and its end', vi: 'Lịch không bao giờ phát: không có lần phát nào trong khoảng thời gian đã đặt' },
  // issue 5: key ceremony and trust distribution (loa keys, root rotation)
  LOA_ERR_KEY_PASSPHRASE: { en: 'The key passphrase is wrong, missing or too short', vi: 'Mật khẩu của tệp khóa sai, chưa nhập hoặc quá ngắn' },
  LOA_ERR_KEY_ROLE: { en: 'This key does not hold the role needed for this step', vi: 'Khóa này không có vai trò cần cho bước này (ví dụ không phải khóa gốc)' },
  LOA_ERR_KEY_EXISTS: { en: 'The file is already there; key files are never overwritten', vi: 'Tệp đã có sẵn; tệp khóa không bao giờ bị ghi đè' },
  LOA_ERR_KEYS_DIR: { en: 'The keys folder is missing files or holds unexpected ones', vi: 'Thư mục khóa thiếu tệp hoặc có tệp không đúng' },
  LOA_ERR_TRUST_CHAIN: { en: 'The chain of trust root versions is broken', vi: 'Chuỗi các phiên bản khóa gốc bị đứt hoặc không khớp nhau' },
  LOA_ERR_ROOT_DRAFT: { en: 'The root draft is invalid or does not match the keys folder', vi: 'Bản nháp khóa gốc không hợp lệ hoặc không khớp với thư mục khóa' },
  // issue 5: pairing and device lifecycle
  LOA_ERR_PAIRING_CODE: { en: 'The pairing code is wrong', vi: 'Mã ghép nối không đúng' },
  LOA_ERR_PAIRING_EXPIRED: { en: 'The pairing code has expired; the device must ask for a new one', vi: 'Mã ghép nối đã hết hạn; thiết bị cần xin mã mới' },
  LOA_ERR_PAIRING_LOCKED: { en: 'Too many wrong codes: this pairing request is locked; the device must ask for a new code', vi: 'Nhập sai mã quá nhiều lần: yêu cầu ghép nối đã bị khóa; thiết bị cần xin mã mới' },
  LOA_ERR_PAIRING_USED: { en: 'This pairing code has already been used', vi: 'Mã ghép nối này đã được sử dụng' },
  LOA_ERR_PAIRING_CLOCK: { en: 'The device clock is too far from the controller clock', vi: 'Đồng hồ của thiết bị lệch quá nhiều so với hệ thống điều khiển' },
  LOA_ERR_PAIRING_KEY_REVOKED: { en: 'This device key has been revoked; make a new key and pair again', vi: 'Khóa của thiết bị đã bị thu hồi; cần tạo khóa mới rồi ghép nối lại' },
  LOA_ERR_PAIRING_KEY_IN_USE: { en: 'This device key is already bound to a device', vi: 'Khóa của thiết bị này đã được gắn với một thiết bị khác' },
  LOA_ERR_PAIRING_BUSY: { en: 'Too many pairing requests are pending; try again later', vi: 'Có quá nhiều yêu cầu ghép nối đang chờ; vui lòng thử lại sau' },
  LOA_ERR_PAIRING_FAILED: { en: 'Pairing with the controller failed', vi: 'Ghép nối thiết bị với hệ thống điều khiển thất bại' },
  LOA_ERR_PAIRING_CANCELLED: { en: 'Waiting for pairing was stopped before the device was paired', vi: 'Đã dừng chờ ghép nối trước khi thiết bị được ghép nối' },
  LOA_ERR_DEVICE_DECOMMISSIONED: { en: 'The device has been decommissioned', vi: 'Thiết bị đã ngừng sử dụng' },
  // issue 5: provisioning and self-test
  LOA_ERR_PROVISION_INPUT: { en: 'Provisioning needs more input, or an option is invalid', vi: 'Thiếu thông tin cài đặt hoặc tham số không hợp lệ' },
  LOA_ERR_PROVISION_NO_PROFILE: { en: 'No hardware profile fits the detected hardware', vi: 'Không có hồ sơ phần cứng nào khớp với phần cứng phát hiện được' },
  LOA_ERR_PROVISION_PROFILE_MISMATCH: { en: 'The hardware profile does not match the detected hardware', vi: 'Hồ sơ phần cứng không khớp với phần cứng phát hiện được' },
  LOA_ERR_PROVISION_ALREADY: { en: 'This device is already provisioned', vi: 'Thiết bị này đã được cài đặt' },
  LOA_ERR_PROVISION_TRUST: { en: 'The trust bundle (root.json) cannot be used', vi: 'Không dùng được gói khóa tin cậy (root.json)' },
  LOA_ERR_PROVISION_COMMIT: { en: 'Installing the provisioned files failed; the previous state was restored', vi: 'Ghi các tệp cài đặt thất bại; đã khôi phục trạng thái trước đó' },
  LOA_ERR_PROVISION_ABORTED: { en: 'Provisioning was cancelled; nothing was changed', vi: 'Đã hủy cài đặt; không có gì bị thay đổi' },
  LOA_ERR_SERVICE_INSTALL: { en: 'The system service could not be installed or started', vi: 'Không cài đặt hoặc khởi động được dịch vụ hệ thống' },
  LOA_ERR_SELFTEST_FAILED: { en: 'The self-test failed', vi: 'Tự kiểm tra thất bại' },
  LOA_ERR_WATCHDOG_NOTIFY: { en: 'The systemd notification (READY/WATCHDOG) could not be sent', vi: 'Không gửi được thông báo systemd (READY/WATCHDOG)' },
  // issue 6: emergency and live broadcasts, text to speech
  LOA_ERR_TTS_TEXT: { en: 'The text to speak is empty or too long', vi: 'Văn bản cần đọc bị trống hoặc quá dài' },
  LOA_ERR_TTS_FAILED: { en: 'Text to speech failed', vi: 'Chuyển văn bản thành giọng nói thất bại' },
  LOA_ERR_EMERGENCY_INVALID: { en: 'The emergency order is malformed', vi: 'Lệnh khẩn cấp không đúng định dạng' },
  LOA_ERR_EMERGENCY_SIGNATURE: { en: 'The emergency order is not signed by a trusted emergency key', vi: 'Lệnh khẩn cấp không được ký bằng khóa khẩn cấp tin cậy' },
  LOA_ERR_EMERGENCY_EXPIRED: { en: 'The emergency order has expired or lives too long', vi: 'Lệnh khẩn cấp đã hết hạn hoặc thời hạn quá dài' },
  LOA_ERR_EMERGENCY_REPLAY: { en: 'The emergency order was already received (replay)', vi: 'Lệnh khẩn cấp này đã nhận trước đó (phát lại)' },
  LOA_ERR_CAP_INVALID: { en: 'The CAP alert is not valid CAP 1.2', vi: 'Bản tin cảnh báo CAP không đúng chuẩn CAP 1.2' },
  LOA_ERR_EMERGENCY_SCOPE: { en: 'The emergency order is not for this device or is outside the key scope', vi: 'Lệnh khẩn cấp không dành cho thiết bị này hoặc vượt phạm vi của khóa' },
  LOA_ERR_EMERGENCY_KEY_MISSING: { en: 'The controller has no emergency key, so it cannot sign emergency orders', vi: 'Hệ thống điều khiển chưa có khóa khẩn cấp nên không thể ký lệnh phát khẩn cấp' },
  LOA_ERR_EMERGENCY_CONFIRM: { en: 'The confirmation does not match: type the zone name, or the code shown by the preview', vi: 'Xác nhận không khớp: hãy nhập đúng tên địa bàn hoặc mã xác nhận hiển thị ở bước xem trước' },
  LOA_ERR_EMERGENCY_NO_TARGETS: { en: 'The emergency order reaches no receiver', vi: 'Lệnh khẩn cấp không tới được thiết bị thu nào' },
  LOA_ERR_EMERGENCY_STATE: { en: 'This step is not possible in the current state of the emergency order', vi: 'Không thể thực hiện bước này ở trạng thái hiện tại của lệnh khẩn cấp' },
  LOA_ERR_EMERGENCY_SAME_APPROVER: { en: 'Another person must approve this emergency order', vi: 'Lệnh khẩn cấp này phải do một người khác phê duyệt' },
  // issue 6: CAP alerts as emergency orders (POST /api/v1/cap, CAP feeds)
  LOA_ERR_CAP_FEED: { en: 'A CAP feed could not be fetched or read', vi: 'Không tải được hoặc không đọc được nguồn tin cảnh báo CAP' },
  // issue 6: the device simulator (loa sim) and the fan-out benchmark
  LOA_ERR_SIM_INPUT: { en: 'An option of the device simulator is missing or invalid', vi: 'Thiếu hoặc sai tham số của trình mô phỏng thiết bị' },
  LOA_ERR_SIM_WORKER: { en: 'A simulator worker process failed or did not answer', vi: 'Một tiến trình của trình mô phỏng thiết bị bị lỗi hoặc không phản hồi' },
  LOA_ERR_SIM_FD_LIMIT: { en: 'The open-file limit is too low for this many simulated connections', vi: 'Giới hạn số tệp mở quá thấp cho số kết nối mô phỏng này' },
  // issue 6: live microphone broadcasts (controller/live)
  LOA_ERR_LIVE_STATE: { en: 'This step is not possible in the current state of the live broadcast', vi: 'Không thể thực hiện bước này ở trạng thái hiện tại của buổi phát trực tiếp' },
  LOA_ERR_LIVE_WEBRTC: { en: 'The microphone connection (WebRTC) could not be set up', vi: 'Không thiết lập được kết nối micrô (WebRTC)' },
  LOA_ERR_LIVE_ENCODER: { en: 'The live audio encoder (ffmpeg) failed', vi: 'Bộ mã hóa âm thanh trực tiếp (ffmpeg) bị lỗi' },
  // issue 9: API tokens for integrations (Node-RED) and the live event stream
  LOA_ERR_API_TOKEN: { en: 'The API token is unknown, expired or revoked', vi: 'Mã truy cập API không tồn tại, đã hết hạn hoặc đã bị thu hồi' },
  LOA_ERR_STREAM_LIMIT: { en: 'Too many live event streams are open for this user', vi: 'Người dùng này đang mở quá nhiều luồng sự kiện trực tiếp' },
  // issue 7: signed device commands (test tone, volume, relay check, reboot; contract B)
  LOA_ERR_COMMAND_INVALID: { en: 'The device command is invalid', vi: 'Lệnh điều khiển thiết bị không hợp lệ' },
  LOA_ERR_COMMAND_SIGNATURE: { en: 'The device command is not signed by a trusted schedule key', vi: 'Lệnh điều khiển thiết bị không có chữ ký hợp lệ của khóa lịch phát' },
  LOA_ERR_COMMAND_WRONG_DEVICE: { en: 'The device command is for another device', vi: 'Lệnh điều khiển dành cho thiết bị khác' },
  LOA_ERR_COMMAND_EXPIRED: { en: 'The device command has expired', vi: 'Lệnh điều khiển thiết bị đã hết hạn' },
  LOA_ERR_COMMAND_REPLAY: { en: 'The device command was already received (replay)', vi: 'Lệnh điều khiển thiết bị đã được nhận trước đó (phát lại)' },
  LOA_ERR_COMMAND_BUSY: { en: 'A command of this type is still running on this device', vi: 'Một lệnh cùng loại vẫn đang chạy trên thiết bị này' },
  LOA_ERR_COMMAND_SKIPPED: { en: 'The test tone could not play: an emergency or live broadcast held the loudspeakers', vi: 'Không phát được âm thử: loa đang phát khẩn cấp hoặc trực tiếp' },
  LOA_ERR_COMMAND_DEVICE: { en: 'This device cannot take commands (not enrolled, revoked or decommissioned)', vi: 'Thiết bị này không nhận lệnh được (chưa đăng ký, đã thu hồi hoặc đã ngừng sử dụng)' },
  // issue 8: LED/LCD public boards (display role, proof-of-display, screenshots, public emergency feed)
  LOA_ERR_DISPLAY_MEDIA: { en: 'The image or video of a slide is missing or cannot be shown', vi: 'Ảnh hoặc video của trang trình chiếu bị thiếu hoặc không hiển thị được' },
  LOA_ERR_DISPLAY_NO_PAGE: { en: 'The board page did not confirm the slide (is the kiosk browser running?)', vi: 'Trang hiển thị của bảng không xác nhận trang trình chiếu (trình duyệt kiosk có đang chạy không?)' },
  LOA_ERR_DISPLAY_COMMAND: { en: 'The board brightness command failed', vi: 'Lệnh chỉnh độ sáng của bảng bị lỗi' },
  LOA_ERR_SCREENSHOT_FAILED: { en: 'The board screenshot could not be taken or sent', vi: 'Không chụp hoặc không gửi được ảnh màn hình của bảng' },
  LOA_ERR_SCREENSHOT_INVALID: { en: 'The screenshot is not a WebP or PNG image of an accepted size', vi: 'Ảnh màn hình không phải ảnh WebP hoặc PNG có kích thước hợp lệ' },
  // issue 7: the dashboard (CSRF check of cookie-authenticated changes) and the KPI reports
  LOA_ERR_CSRF: { en: 'The request did not come from a page of this controller (CSRF check failed)', vi: 'Yêu cầu không xuất phát từ trang của hệ thống (kiểm tra CSRF thất bại)' },
  // issue 8: image and video media for boards
  LOA_ERR_MEDIA_NOT_IMAGE: { en: 'The file is not a PNG, JPEG or WebP image', vi: 'Tệp không phải ảnh PNG, JPEG hoặc WebP' },
  LOA_ERR_MEDIA_NOT_VIDEO: { en: 'The file is not a video (MP4, MOV, WebM or MKV with a picture)', vi: 'Tệp không phải video (MP4, MOV, WebM hoặc MKV có hình)' },
  LOA_ERR_MEDIA_CORRUPT: { en: 'The image or video is damaged or cut short and cannot be decoded', vi: 'Ảnh hoặc video bị hỏng hoặc thiếu dữ liệu, không giải mã được' },
  LOA_ERR_MEDIA_KIND_MISMATCH: { en: 'The media is of the wrong kind for this use (audio, image or video)', vi: 'Tệp không đúng loại cho mục này (âm thanh, ảnh hoặc video)' },
  // issue 11: agent releases, staged rollouts and self-update
  LOA_ERR_RELEASE_INVALID: { en: 'The release metadata is malformed', vi: 'Thông tin bản phát hành sai định dạng' },
  LOA_ERR_RELEASE_SIGNATURE: { en: 'The release is not signed by enough valid release keys', vi: 'Bản phát hành không có đủ chữ ký hợp lệ của khóa phát hành' },
  LOA_ERR_RELEASE_UNKNOWN_KEY: { en: 'The release is signed by a key that is not a trusted release key', vi: 'Bản phát hành được ký bằng khóa không phải khóa phát hành tin cậy' },
  LOA_ERR_RELEASE_HASH: { en: 'The release file does not match its signed size and checksum (tampered or damaged)', vi: 'Tệp bản phát hành không khớp kích thước và mã băm đã ký (bị sửa hoặc hỏng)' },
  LOA_ERR_RELEASE_DOWNGRADE: { en: 'The release is older than the running version; a downgrade needs an explicit signed order', vi: 'Bản phát hành cũ hơn phiên bản đang chạy; hạ cấp cần lệnh ký rõ ràng' },
  LOA_ERR_RELEASE_ARCH: { en: 'The release is built for another processor architecture', vi: 'Bản phát hành dành cho kiến trúc bộ xử lý khác' },
  // issue 10: reliability and security proving ground
  LOA_ERR_LOGIN_THROTTLED: { en: 'Too many failed sign-ins for this user name; wait and try again', vi: 'Đăng nhập sai quá nhiều lần với tên này; vui lòng đợi rồi thử lại' },
  // issue 11: on the device
  LOA_ERR_UPDATE_HEALTH: { en: 'The new agent version failed its health check; the device went back to the previous version', vi: 'Phiên bản mới không qua kiểm tra sức khỏe; thiết bị đã quay về phiên bản trước' },
  LOA_ERR_UPDATE_CRASH_LOOP: { en: 'The new agent version crashed at start three times; the device went back to the previous version', vi: 'Phiên bản mới bị dừng khi khởi động ba lần; thiết bị đã quay về phiên bản trước' },
  LOA_ERR_UPDATE_NOT_INSTALLED: { en: 'This agent is not installed in the release layout, so it cannot update itself', vi: 'Phần mềm không được cài theo cấu trúc bản phát hành nên không thể tự cập nhật' },
  LOA_ERR_UPDATE_UNPACK: { en: 'The release artifact could not be unpacked', vi: 'Không giải nén được tệp bản phát hành' },
  LOA_ERR_UPDATE_RETRY_REFUSED: { en: 'This release already failed on this device for this deployment; it is not installed again', vi: 'Bản phát hành này đã lỗi trên thiết bị trong đợt triển khai này; không cài lại' },
  LOA_ERR_UPDATE_BUSY: { en: 'An install waits: a broadcast is playing or due, or it is outside the maintenance window', vi: 'Việc cài đặt đang chờ: đang hoặc sắp phát thanh, hoặc ngoài khung giờ bảo trì' },
  LOA_ERR_RELEASE_BUILD: { en: 'The release could not be built', vi: 'Không đóng gói được bản phát hành' },
  // issue 10: storage faults
  LOA_ERR_STORE_SNAPSHOT: { en: 'A copy of the manifest, trust root or event counter kept outside the database cannot be read', vi: 'Không đọc được bản sao lịch phát, khóa gốc hoặc bộ đếm sự kiện lưu ngoài cơ sở dữ liệu' },
  LOA_ERR_MEDIA_STORED_CORRUPT: { en: 'A stored media file no longer matches its sha256 (cut short or altered on disk); it is fetched again', vi: 'Tệp âm thanh đã lưu không còn khớp mã băm (bị cắt ngắn hoặc bị sửa trên đĩa); sẽ tải lại' },
  LOA_ERR_DISK_FULL: { en: 'The disk of the data folder is full', vi: 'Ổ đĩa của thư mục dữ liệu đã đầy' },
  LOA_ERR_RELEASE_EXISTS: { en: 'Another release file is already stored for this version and architecture', vi: 'Đã có tệp khác cho phiên bản và kiến trúc này' },
  LOA_ERR_RELEASE_NOT_FOUND: { en: 'No such release', vi: 'Không có bản phát hành này' },
  LOA_ERR_RELEASE_IN_USE: { en: 'The release is used by a deployment', vi: 'Bản phát hành đang được dùng trong một đợt cập nhật' },
  LOA_ERR_DEPLOYMENT_NOT_FOUND: { en: 'No such deployment', vi: 'Không có đợt cập nhật này' },
  LOA_ERR_DEPLOYMENT_TARGET: { en: 'The deployment targets no eligible device, or its waves are not valid', vi: 'Đợt cập nhật không có thiết bị phù hợp, hoặc các lượt không hợp lệ' },
  LOA_ERR_DEPLOYMENT_CONFLICT: { en: 'A targeted device is already in a running deployment', vi: 'Một thiết bị đã nằm trong đợt cập nhật đang chạy' },
  LOA_ERR_DEPLOYMENT_STATE: { en: 'The deployment is not in a state that allows this', vi: 'Đợt cập nhật đang ở trạng thái không cho phép thao tác này' },
  LOA_ERR_DEPLOYMENT_HALTED: { en: 'The rollout stopped: too many devices failed in a wave', vi: 'Đợt cập nhật đã dừng: quá nhiều thiết bị lỗi trong một lượt' },
  LOA_ERR_DEPLOYMENT_TIMEOUT: { en: 'The device did not report a healthy update within the wave timeout', vi: 'Thiết bị không báo cập nhật thành công trong thời hạn của lượt' },
  // issue 10: process chaos
  LOA_ERR_COMMAND_INTERRUPTED: { en: 'The device stopped (power cut or crash) after it accepted the command and before it finished it; the command is not run again', vi: 'Thiết bị bị dừng (mất điện hoặc lỗi) sau khi nhận lệnh và trước khi thực hiện xong; lệnh không được chạy lại' },
} as const satisfies Record<string, { en: string; vi: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface LoaErrorOptions {
  cause?: unknown;
  /** Extra facts for logs and events (never secrets). */
  details?: Record<string, unknown>;
}

/** An error with a stable code from the table. At HTTP/MQTT boundaries it becomes `{error: {code, message}}`. */
export class LoaError extends Error {
  override name = 'LoaError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message?: string, options: LoaErrorOptions = {}) {
    super(message ?? ERRORS[code].en, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
  toJSON(): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

/** Every crypto failure collapses into this one type, so callers cannot leak which check failed by accident. */
export class CryptoError extends LoaError {
  override name = 'CryptoError';
  constructor(message: string = ERRORS.LOA_ERR_CRYPTO.en, options: LoaErrorOptions = {}) {
    super('LOA_ERR_CRYPTO', message, options);
  }
}

export function isLoaError(e: unknown): e is LoaError {
  return e instanceof LoaError;
}

/** Wraps anything thrown into a LoaError, keeping the original as the cause. */
export function toLoaError(e: unknown, fallback: ErrorCode = 'LOA_ERR_INTERNAL'): LoaError {
  if (e instanceof LoaError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new LoaError(fallback, `${ERRORS[fallback].en}: ${msg}`, { cause: e });
}

/** The Vietnamese message for a code, for UIs. */
export function messageVi(code: ErrorCode): string {
  return ERRORS[code].vi;
}
