/**
 * Every string of the dashboard, Vietnamese first, English second (issue 7). The server renders the chosen
 * language's half into each page (a JSON block the page modules read); the `loa_lang` cookie picks it.
 */
const STRINGS = {
  app: ['Hệ thống thông tin cơ sở — Loa phường', 'Grassroots information system — loudspeakers'],
  skip: ['Bỏ qua, đến nội dung chính', 'Skip to main content'],
  loading: ['Đang tải…', 'Loading…'],
  language: ['English', 'Tiếng Việt'],
  languageLabel: ['Chuyển sang tiếng Anh', 'Switch to Vietnamese'],
  logout: ['Đăng xuất', 'Sign out'],
  // navigation and page titles
  'page.login': ['Đăng nhập', 'Sign in'],
  'page.overview': ['Tổng quan', 'Overview'],
  'page.devices': ['Thiết bị', 'Devices'],
  'page.device': ['Chi tiết thiết bị', 'Device'],
  'page.map': ['Bản đồ', 'Map'],
  'page.library': ['Thư viện âm thanh', 'Media library'],
  'page.schedules': ['Chương trình và lịch phát', 'Programs and schedules'],
  'page.emergency': ['Phát khẩn cấp', 'Emergency'],
  'page.reports': ['Báo cáo', 'Reports'],
  'page.users': ['Người dùng và vai trò', 'Users and roles'],
  'page.audit': ['Nhật ký hệ thống', 'Audit log'],
  // login
  username: ['Tên đăng nhập', 'Username'],
  password: ['Mật khẩu', 'Password'],
  signIn: ['Đăng nhập', 'Sign in'],
  // common
  save: ['Lưu', 'Save'], cancel: ['Hủy', 'Cancel'], create: ['Tạo', 'Create'], search: ['Tìm', 'Search'], refresh: ['Làm mới', 'Refresh'],
  all: ['Tất cả', 'All'], none: ['Không có', 'None'], yes: ['Có', 'Yes'], no: ['Không', 'No'], next: ['Trang sau', 'Next page'], prev: ['Trang đầu', 'First page'],
  name: ['Tên', 'Name'], id: ['Mã', 'ID'], zone: ['Địa bàn', 'Zone'], kind: ['Loại', 'Kind'], status: ['Trạng thái', 'Status'], time: ['Thời gian', 'Time'],
  title: ['Tiêu đề', 'Title'], duration: ['Thời lượng', 'Duration'], actions: ['Thao tác', 'Actions'], details: ['Chi tiết', 'Details'], from: ['Từ ngày', 'From'], to: ['Đến ngày', 'To'],
  online: ['Trực tuyến', 'Online'], offline: ['Mất kết nối', 'Offline'], stale: ['Lịch hết hạn', 'Stale schedule'], neverSeen: ['Chưa kết nối', 'Never connected'],
  speaker: ['Loa', 'Loudspeaker'], board: ['Bảng điện tử', 'E-board'], lastSeen: ['Lần cuối', 'Last seen'], manifest: ['Lịch phát (áp dụng / mới nhất)', 'Manifest (applied / latest)'],
  error: ['Lỗi', 'Error'], done: ['Xong', 'Done'], notAvailable: ['Chức năng này chưa có trên máy chủ điều khiển này.', 'This function is not available on this controller.'],
  liveSse: ['Cập nhật trực tiếp', 'Live updates'], livePoll: ['Cập nhật mỗi 5 giây', 'Refreshing every 5 s'],
  // overview
  devicesTotal: ['Tổng số thiết bị', 'Devices'], playsToday: ['Lượt phát hôm nay', 'Plays today'], failedPlays: ['Lượt phát lỗi hôm nay', 'Failed plays today'],
  openAlarms: ['Cảnh báo đang mở', 'Open alarms'], alarmsHelp: ['Thiết bị mất kết nối, lịch phát hết hạn hoặc có lượt phát lỗi hôm nay', 'Devices offline, on a stale schedule, or with a failed play today'],
  activeEmergencies: ['Lệnh khẩn cấp đang hiệu lực', 'Emergency orders in force'],
  // devices
  filterZone: ['Cây địa bàn', 'Zone tree'], filterText: ['Tìm theo mã hoặc tên', 'Search by id or name'], filterOnline: ['Trạng thái kết nối', 'Connection'],
  showing: ['Hiển thị {n} thiết bị', 'Showing {n} devices'], noDevices: ['Không có thiết bị nào.', 'No devices.'],
  // device detail
  health: ['Tình trạng (24 giờ qua)', 'Health (last 24 h)'], playHistory: ['Lịch sử phát (7 ngày)', 'Play history (7 days)'], events: ['Sự kiện gần đây', 'Recent events'],
  screenshot: ['Ảnh màn hình gần nhất', 'Latest screenshot'], noScreenshot: ['Bảng chưa gửi ảnh màn hình nào', 'The board has not sent a screenshot yet'],
  commands: ['Lệnh điều khiển', 'Commands'], testTone: ['Phát âm thử', 'Test tone'], volume: ['Âm lượng', 'Volume'], setVolume: ['Đặt âm lượng', 'Set volume'],
  relayCheck: ['Kiểm tra rơ-le', 'Relay check'], reboot: ['Khởi động lại', 'Reboot'], commandState: ['Trạng thái lệnh', 'Command state'],
  confirmReboot: ['Khởi động lại thiết bị này?', 'Reboot this device?'], tempC: ['Nhiệt độ (°C)', 'Temperature (°C)'], cpuLoad: ['Tải CPU', 'CPU load'],
  rssiDbm: ['Sóng (dBm)', 'Signal (dBm)'], diskFreeMb: ['Đĩa trống (MB)', 'Free disk (MB)'], noData: ['Chưa có số liệu.', 'No data yet.'],
  agentVersion: ['Phiên bản phần mềm', 'Agent version'], hardware: ['Cấu hình phần cứng', 'Hardware profile'], position: ['Tọa độ', 'Position'],
  // map
  mapHelp: ['Bản đồ không cần máy chủ bản đồ: mỗi chấm là một thiết bị có tọa độ (xanh: trực tuyến, đỏ: mất kết nối).', 'No tile server needed: each dot is a device with coordinates (green: online, red: offline).'],
  noCoordinates: ['{n} thiết bị chưa có tọa độ.', '{n} devices have no coordinates.'],
  // media
  upload: ['Tải lên', 'Upload'], file: ['Tệp (âm thanh, ảnh, video)', 'File (audio, picture, video)'], uploading: ['Đang tải lên: {p}%', 'Uploading: {p}%'], uploaded: ['Đã tải lên.', 'Uploaded.'],
  mediaKind: ['Loại', 'Kind'], 'kind.auto': ['Tự nhận biết', 'Detect'], 'kind.audio': ['Âm thanh', 'Audio'], 'kind.image': ['Ảnh', 'Picture'], 'kind.video': ['Video', 'Video'],
  preview: ['Nghe thử', 'Preview'], delete: ['Xóa', 'Delete'], confirmDelete: ['Xóa mục này?', 'Delete this item?'],
  // programs and schedules
  programs: ['Chương trình', 'Programs'], schedules: ['Lịch phát', 'Schedules'], newProgram: ['Chương trình mới', 'New program'], newSchedule: ['Lịch phát mới', 'New schedule'],
  media: ['Âm thanh', 'Media'], program: ['Chương trình', 'Program'], startAt: ['Bắt đầu (giờ Việt Nam)', 'Starts (Vietnam time)'], repeat: ['Lặp lại', 'Repeat'],
  once: ['Một lần', 'Once'], daily: ['Hằng ngày', 'Daily'], weekdays: ['Thứ Hai đến Thứ Sáu', 'Monday to Friday'], weekly: ['Hằng tuần', 'Weekly'],
  until: ['Đến ngày', 'Until'], priority: ['Mức ưu tiên', 'Priority'], normal: ['Thường', 'Normal'], 'priority.priority': ['Ưu tiên', 'Priority'],
  targets: ['Nơi phát', 'Targets'], confirmNight: ['Tôi xác nhận phát trong giờ nghỉ đêm (22:00–05:00)', 'I confirm playing in the quiet hours (22:00–05:00)'],
  submit: ['Gửi duyệt', 'Submit'], approve: ['Duyệt', 'Approve'], created: ['Đã tạo.', 'Created.'],
  week: ['Lịch tuần', 'Week'], calendarFor: ['Lịch tuần của thiết bị', 'Week plan of device'], conflicts: ['Xung đột', 'Conflicts'], noConflicts: ['Không có xung đột.', 'No conflicts.'],
  prevWeek: ['Tuần trước', 'Previous week'], nextWeek: ['Tuần sau', 'Next week'],
  'state.draft': ['Nháp', 'Draft'], 'state.pending': ['Chờ duyệt', 'Pending'], 'state.approved': ['Đã duyệt', 'Approved'], 'state.rejected': ['Bị từ chối', 'Rejected'], 'state.archived': ['Lưu trữ', 'Archived'],
  // emergency
  emStep1: ['1. Chọn địa bàn', '1. Choose zones'], emStep2: ['2. Nội dung', '2. Content'], emStep3: ['3. Xem trước', '3. Preview'], emStep4: ['4. Xác nhận', '4. Confirm'],
  emText: ['Nội dung đọc (chuyển văn bản thành giọng nói)', 'Text to read (text to speech)'], emMedia: ['hoặc chọn âm thanh có sẵn', 'or choose an existing audio file'],
  emRepeat: ['Số lần phát', 'Times to play'], emTtl: ['Hiệu lực (phút)', 'Valid for (minutes)'], emPreview: ['Xem trước', 'Preview'],
  emTargets: ['Sẽ phát tới {n} thiết bị ({online} đang trực tuyến).', 'Will reach {n} devices ({online} online).'],
  emConfirm1: ['Gõ lại tên địa bàn để xác nhận: {name}', 'Retype the zone name to confirm: {name}'], emConfirm2: ['Gõ lại lần nữa', 'Type it once more'],
  emSend: ['PHÁT KHẨN CẤP', 'SEND EMERGENCY'], emCancel: ['Dừng lệnh khẩn cấp', 'Cancel the emergency order'], emMismatch: ['Hai lần gõ chưa khớp với tên địa bàn.', 'The two entries do not match the zone name.'],
  emProgress: ['Tiến độ', 'Progress'], emOrders: ['Lệnh gần đây', 'Recent orders'],
  'em.targeted': ['Mục tiêu', 'Targeted'], 'em.received': ['Đã nhận', 'Received'], 'em.playing': ['Đang phát', 'Playing'], 'em.finished': ['Đã phát xong', 'Finished'], 'em.failed': ['Lỗi', 'Failed'], 'em.offline': ['Mất kết nối', 'Offline'],
  // reports
  period: ['Kỳ báo cáo', 'Period'], show: ['Xem', 'Show'], exportCsv: ['Xuất CSV', 'Export CSV'], exportXlsx: ['Xuất Excel (XLSX)', 'Export Excel (XLSX)'],
  indicator: ['Chỉ tiêu', 'Indicator'], numerator: ['Đạt', 'Met'], denominator: ['Tổng', 'Total'], percent: ['Tỷ lệ', 'Rate'],
  kpiCoverage: ['Xã có đài truyền thanh ứng dụng CNTT phủ đến mọi thôn', 'Communes whose IT-based radio reaches every village'],
  kpiConverted: ['Đài truyền thanh có dây/FM đã chuyển đổi', 'Wired/FM stations converted'],
  kpiBoards: ['Xã, phường có bảng tin điện tử công cộng', 'Communes and wards with public e-boards'],
  kpiDistrictBoards: ['Huyện có bảng điện tử cỡ lớn kết nối hệ thống nguồn của tỉnh', 'Districts with large boards connected to the provincial source system'],
  kpiUptime: ['Thời gian thiết bị trực tuyến', 'Device uptime'], kpiPlays: ['Lượt phát đã thực hiện / theo lịch', 'Plays delivered / scheduled'],
  kpiEmergency: ['Thời gian nhận lệnh khẩn cấp', 'Emergency delivery times'], medianS: ['Trung vị (giây)', 'Median (s)'], p95S: ['95% (giây)', '95th percentile (s)'],
  perZone: ['Theo địa bàn', 'By zone'],
  // users and audit
  role: ['Vai trò', 'Role'], roles: ['Vai trò theo địa bàn', 'Roles by zone'], displayName: ['Họ tên', 'Display name'], disabled: ['Đã khóa', 'Disabled'], newUser: ['Người dùng mới', 'New user'],
  'role.admin': ['Quản trị', 'Admin'], 'role.operator': ['Biên tập, vận hành', 'Operator'], 'role.technician': ['Kỹ thuật', 'Technician'], 'role.viewer': ['Xem', 'Viewer'],
  canApprove: ['Được duyệt', 'May approve'], addRole: ['Thêm vai trò', 'Add role'], removeRole: ['Bỏ vai trò', 'Remove role'], lock: ['Khóa', 'Lock'], unlock: ['Mở khóa', 'Unlock'], actor: ['Người thực hiện', 'Actor'], action: ['Hành động', 'Action'], target: ['Đối tượng', 'Target'], older: ['Cũ hơn', 'Older'],
  // issue 11: software updates (agent releases and staged rollouts)
  'page.updates': ['Cập nhật phần mềm', 'Software updates'], releases: ['Bản phát hành', 'Releases'], deployments: ['Các đợt cập nhật', 'Deployments'],
  version: ['Phiên bản', 'Version'], arch: ['Kiến trúc', 'Architecture'], size: ['Dung lượng', 'Size'], uploadedAt: ['Tải lên lúc', 'Uploaded'],
  wave: ['Lượt', 'Wave'], waveLine: ['Lượt {n} ({p}%): {count} thiết bị — {state}', 'Wave {n} ({p}%): {count} devices — {state}'], reason: ['Lý do', 'Reason'], message: ['Diễn giải', 'Message'],
  device: ['Thiết bị', 'Device'], updatedAt: ['Cập nhật lúc', 'Updated'], pause: ['Tạm dừng', 'Pause'], resume: ['Tiếp tục', 'Resume'], abort: ['Hủy đợt', 'Abort'],
  abortConfirm: ['Hủy đợt cập nhật này? Thiết bị chưa chuyển phiên bản sẽ không cài nữa.', 'Abort this deployment? Devices that have not switched will not install it.'],
  noReleases: ['Chưa có bản phát hành. Dùng lệnh loa release upload.', 'No release yet. Use loa release upload.'], noDeployments: ['Chưa có đợt cập nhật nào.', 'No deployment yet.'],
  haltReason: ['Lý do dừng', 'Why it stopped'],
  'dep.running': ['Đang triển khai', 'Running'], 'dep.paused': ['Tạm dừng', 'Paused'], 'dep.halted': ['Đã dừng do lỗi', 'Halted'], 'dep.completed': ['Hoàn tất', 'Completed'], 'dep.aborted': ['Đã hủy', 'Aborted'],
  'wave.pending': ['chờ', 'pending'], 'wave.running': ['đang chạy', 'running'], 'wave.done': ['xong', 'done'], 'wave.failed': ['lỗi', 'failed'], 'wave.cancelled': ['đã hủy', 'cancelled'],
  'upd.pending': ['Chờ lượt', 'Waiting for its wave'], 'upd.waiting': ['Đã gửi, chờ thiết bị', 'Offered'], 'upd.deferred': ['Hoãn (ngoài giờ bảo trì hoặc đang phát)', 'Deferred'],
  'upd.downloading': ['Đang tải', 'Downloading'], 'upd.downloaded': ['Đã tải', 'Downloaded'], 'upd.installing': ['Đang cài', 'Installing'], 'upd.switched': ['Đã chuyển, đang kiểm tra', 'Switched, checking health'],
  'upd.healthy': ['Hoạt động tốt', 'Healthy'], 'upd.failed': ['Lỗi', 'Failed'], 'upd.rolled-back': ['Đã quay lại bản cũ', 'Rolled back'], 'upd.rejected': ['Thiết bị từ chối', 'Rejected'], 'upd.timeout': ['Quá hạn', 'Timed out'],
} as const satisfies Record<string, readonly [string, string]>;

export type Lang = 'vi' | 'en';
export type StringKey = keyof typeof STRINGS;
export const LANG_COOKIE = 'loa_lang';

/** One language's strings, key → text. */
export function dictionary(lang: Lang): Record<StringKey, string> {
  const i = lang === 'vi' ? 0 : 1;
  return Object.fromEntries(Object.entries(STRINGS).map(([k, v]) => [k, v[i]])) as Record<StringKey, string>;
}

export function langOf(cookie: string | undefined): Lang {
  return cookie === 'en' ? 'en' : 'vi';
}
