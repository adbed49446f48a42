// Labels in Chinese and English. Data names (districts, zones, enterprises) come from the API in Chinese
// where they have one; only the page's own words are translated here.

const LABELS = {
  en: {
    brand: "Landcycle", tagline: "Industrial land, full life cycle",
    "nav.map": "Map", "nav.queues": "Queues", "nav.dashboard": "Dashboard", "nav.data": "Data",
    "data.title": "Data in and out", "data.export": "Download data", "data.what": "What", "data.import": "Import a file",
    "data.jobs": "Recent imports", "data.format": "Format", "data.format.gpkg": "GeoPackage",
    "data.format.shp": "Shapefile (zip)", "data.format.csv": "CSV (WKT)", "data.format.geojson": "GeoJSON",
    "data.format.excel": "CSV for Excel (WKT)", "data.crs": "Coordinates", "data.crs.file": "Coordinates of the file", "data.any": "any",
    "data.as_of": "As of (optional)", "data.download": "Download", "data.preparing": "Preparing the file…",
    "data.downloaded": "Downloaded {name}.", "data.file": "File",
    "data.file.hint": "GeoPackage, zipped Shapefile or file geodatabase, GeoJSON, CSV or spreadsheet (WKT or lon/lat columns); or a Shapefile's .shp with its .dbf, .shx, .prj and .cpg.",
    "data.kind": "What it holds", "data.kind.parcels": "Parcels", "data.kind.zones": "Zones",
    "data.kind.districts": "Districts", "data.layer": "Layer or sheet (when there are several)",
    "data.land_use": "Land use of rows without one", "data.from_file": "as the file says",
    "data.encoding": "Text encoding (Shapefile without .cpg, CSV)", "data.uploading": "Sending the file…",
    "data.map": "Columns of other names (field=column …)",
    "data.dry_run": "Check only, write nothing", "data.dry_run.short": "check only",
    "data.skip_invalid": "Keep the accepted rows when some are refused (default: all or nothing)",
    "data.start": "Import", "data.job": "Import {id} ({file})",
    "data.status.queued": "queued", "data.status.running": "running", "data.status.succeeded": "succeeded",
    "data.status.refused": "refused, nothing written", "data.status.failed": "failed",
    "data.status.cancelled": "cancelled, nothing written", "data.cancel": "Cancel the import",
    "data.phase.reading": "reading the file", "data.phase.geometry": "checking geometry",
    "data.phase.staging": "staging", "data.phase.locating": "locating", "data.phase.rules": "applying the rules",
    "data.phase.overlaps": "listing overlaps", "data.phase.inserting": "writing", "data.phase.done": "done",
    "data.counts": "read {read}, accepted {accepted}, refused {refused}", "data.row": "Row",
    "data.code": "Refusal", "data.report": "Download every refused row (CSV)", "data.read": "Read",
    "data.accepted": "Accepted", "data.refused": "Refused", "data.by": "By", "data.when": "When",
    "lang.switch": "中文", "lang.switch.aria": "切换到中文",
    logout: "Log out", "login.title": "Log in", "login.username": "User name", "login.password": "Password",
    "login.submit": "Log in", "login.failed": "Login failed: {detail}",
    "search.label": "Find a parcel", "search.placeholder": "Parcel code, e.g. 310115-LG-000001", "search.go": "Find",
    "search.none": "No current parcel has the code {code}.",
    "style.label": "Colour parcels by", "style.tier": "Tier", "style.legacy_zone": "Legacy zone", "style.status": "Status",
    "legend.title": "Legend", "legend.zone.base": "Industrial base", "legend.zone.community": "Industrial community",
    "legend.district": "District boundary",
    "tier.base": "Base", "tier.community": "Community", "tier.fragment": "Fragment",
    "legacy.104": "104 block", "legacy.195": "195 area", "legacy.198": "198 area", "legacy.none": "none",
    "status.planned": "Planned", "status.supplied": "Supplied", "status.under_construction": "Under construction",
    "status.operating": "Operating", "status.rectification": "Rectification", "status.exiting": "Exiting",
    "status.recovered": "Recovered",
    "panel.close": "Close", "panel.loading": "Loading…", "panel.title": "Parcel {code}",
    "panel.facts": "Facts", "panel.code": "Code", "panel.district": "District", "panel.tier": "Tier",
    "panel.zone": "Zone", "panel.land_use": "Land use", "panel.area": "Area", "panel.plot_ratio": "Plot ratio",
    "panel.cap": "Cap", "panel.cap_source": "source: {source}", "panel.status": "Status",
    "panel.lock": "Planning lock", "panel.locked": "Locked (advanced-manufacturing base: no change of use)",
    "panel.unlocked": "Not locked", "panel.contract": "Contract", "panel.no_contract": "No active contract",
    "panel.enterprise": "Enterprise", "panel.term": "Term", "panel.signed": "Signed {date}, expires {expires}",
    "panel.indicators": "Indicators", "panel.indicator": "Indicator", "panel.target": "Target",
    "panel.latest": "Measured {date}", "panel.latest.none": "Measured",
    "badge.label": "At a glance", "badge.locked": "Planning lock", "badge.capped": "At its cap {cap}",
    "badge.scheduled": "Evaluation due {date}", "badge.overdue": "Evaluation overdue since {date}",
    "badge.rectification": "In rectification until {date}", "badge.below": "Below the bottom line ({date})",
    "lock.true": "Locked", "lock.false": "Not locked", "style.planning_locked": "Planning lock",
    "panel.evaluations": "Evaluations", "panel.due": "Due", "panel.past": "Past", "panel.none": "None",
    "panel.requests": "Plot-ratio requests", "panel.history": "History", "panel.version": "Version",
    "panel.valid_from": "From", "panel.valid_to": "Until", "panel.now": "now",
    "land_use.industrial": "Industrial", "land_use.rnd": "R&D", "land_use.office": "Office",
    "land_use.commercial": "Commercial", "land_use.other": "Other",
    "cap_source.default": "default cap", "cap_source.zone": "zone cap", "cap_source.reference": "reference plot",
    "cap_source.approved_request": "approved request",
    "indicator.investment_intensity": "Investment intensity", "indicator.output_per_mu": "Output per mu",
    "indicator.tax_per_mu": "Tax per mu", "indicator.energy_per_value_added": "Energy per value added",
    "indicator.emissions_per_value_added": "Emissions per value added", "indicator.rnd_intensity": "R&D intensity",
    "indicator.jobs": "Jobs",
    "stage.commissioning": "Commissioning", "stage.periodic": "Periodic", "stage.rectification": "Rectification",
    "stage.expiry": "Expiry",
    "outcome.pass": "Pass", "outcome.below_bottom_line": "Below the bottom line",
    "eval.status.scheduled": "Scheduled", "eval.status.overdue": "Overdue", "eval.status.completed": "Completed",
    "eval.status.cancelled": "Cancelled",
    "contract.status.active": "Active", "contract.status.rectification": "Rectification",
    "contract.status.exiting": "Exiting", "contract.status.terminated": "Terminated",
    "contract.status.expired": "Expired",
    "req.status.submitted": "Submitted", "req.status.public_notice": "Public notice",
    "req.status.approved": "Approved", "req.status.rejected": "Rejected", "req.status.withdrawn": "Withdrawn",
    "req.route.district": "District decides", "req.route.city": "City decides",
    "req.new": "Ask to raise the plot ratio", "req.requested": "Requested plot ratio", "req.reason": "Reason",
    "req.reference": "Reference office/commercial parcel id (above the cap; optional)",
    "req.submit": "Submit request", "req.submitted": "Request {id} submitted ({route}).",
    "req.notice": "Record notice", "req.notice_from": "Notice from", "req.notice_to": "to",
    "req.approve": "Approve", "req.reject": "Reject", "req.withdraw": "Withdraw",
    "req.done": "Request {id}: {status}.", "req.age": "{days} d",
    "queues.title": "Queues", "queues.scope.city": "The whole city", "queues.scope.district": "District {name}",
    "queues.requests": "Plot-ratio requests", "queues.evaluations": "Evaluations due and overdue",
    "queues.rectification": "Contracts in rectification", "queues.exits": "Exit candidates",
    "queues.empty": "Nothing here.", "queues.more": "{shown} of {total} shown",
    "col.parcel": "Parcel", "col.district": "District", "col.status": "Status", "col.route": "Route",
    "col.current": "Current", "col.requested": "Requested", "col.age": "Age", "col.actions": "Actions",
    "col.contract": "Contract", "col.enterprise": "Enterprise", "col.stage": "Stage", "col.due": "Due",
    "col.overdue": "Overdue", "col.reason": "Reason", "col.since": "Since", "col.rectify_by": "Rectify by",
    "col.submitted_by": "Submitted by",
    "reason.repeated_below_bottom_line": "Repeatedly below the bottom line",
    "reason.failed_rectification": "Failed rectification", "reason.expired": "Term expired",
    "reason.idle_land": "Idle land",
    "dash.title": "Industrial land against the targets", "dash.as_of": "as of {date}",
    "dash.total": "Industrial and R&D land (not exited)", "dash.total.short": "Industrial + R&D",
    "dash.base_am.short": "Advanced mfg. bases", "dash.target2020": "2020 target ~550 km²",
    "dash.band2035": "2035 band 320–480 km²", "dash.base_am": "Bases for advanced manufacturing",
    "dash.target2025": "2025 target ≥ 150 km²", "dash.met": "met", "dash.not_met": "not met",
    "dash.within_band": "within the 2035 band", "dash.outside_band": "outside the 2035 band",
    "dash.by_tier": "By tier", "dash.by_district": "By district", "dash.trajectory": "Trajectory to 2035",
    "dash.trajectory.note": "Recorded history (rule 10) and the straight path from today into the 2035 band.",
    "dash.per_year": "{value} km² per year to reach {target} km² by 2035",
    "dash.evaluations": "Evaluation pipeline (next {days} days)", "dash.due": "Due", "dash.overdue": "Overdue",
    "dash.exits": "Exit pipeline", "dash.candidates": "Exit candidates", "dash.cases_open": "Exit cases open",
    "dash.cases_completed": "Exit cases completed", "dash.rectification": "Contracts in rectification",
    "dash.classes": "A–D efficiency classes ({year})", "dash.class": "Class {c}",
    "col.km2": "km²", "col.parcels": "Parcels", "col.year": "Year", "col.count": "Count", "col.tier": "Tier",
    "unit.mu": "mu", "yes": "yes", "no": "no",
    "error.generic": "Something went wrong: {detail}",
    "err.FAR_CAP_EXCEEDED": "The plot ratio {requested} is above the cap of {cap}.",
    "err.FAR_NOT_INCREASED": "The requested plot ratio {requested} is not above the current {current}.",
    "err.REQUEST_CONFLICT": "Request {open_request_id} for this parcel is still open.",
    "err.CONTRACT_IN_RECTIFICATION": "The parcel's contract is in {contract_status}; no request until it is active again.",
    "err.NOTICE_PERIOD_NOT_OVER": "The public notice runs until {notice_ends_on}; no decision before it is over.",
    "err.SELF_APPROVAL_FORBIDDEN": "You submitted this request; someone else must decide it.",
    "err.FORBIDDEN_DISTRICT": "This parcel is outside your district.",
    "err.FORBIDDEN_ROLE": "Your role may not do this.",
    "err.INVALID_TRANSITION": "This request cannot move from {status} that way.",
    "err.VERSION_CONFLICT": "Someone changed this in the meantime; reload and try again.",
    "err.UNAUTHENTICATED": "Please log in again.",
    "err.VALIDATION_ERROR": "Some input is not valid.",
    "err.NOT_FOUND": "Not found.",
    "err.TOO_MANY_REQUESTS": "Too many attempts; wait {retry_after} s and try again.",
  },
  zh: {
    brand: "Landcycle 产业用地全生命周期", tagline: "产业用地全生命周期管理",
    "nav.map": "地图", "nav.queues": "待办", "nav.dashboard": "总览", "nav.data": "数据",
    "data.title": "数据导入与导出", "data.export": "下载数据", "data.what": "内容", "data.import": "导入文件", "data.jobs": "最近的导入",
    "data.format": "格式", "data.format.gpkg": "GeoPackage", "data.format.shp": "Shapefile（zip）",
    "data.format.csv": "CSV（WKT）", "data.format.geojson": "GeoJSON", "data.format.excel": "CSV（Excel 用，WKT）",
    "data.crs": "坐标系",
    "data.crs.file": "文件坐标系", "data.any": "全部", "data.as_of": "历史日期（可选）", "data.download": "下载",
    "data.preparing": "正在生成文件……", "data.downloaded": "已下载 {name}。", "data.file": "文件",
    "data.file.hint": "GeoPackage、Shapefile 或文件地理数据库（zip）、GeoJSON、CSV 或电子表格（WKT 或经纬度列）；也可选 .shp 及其 .dbf、.shx、.prj、.cpg。",
    "data.kind": "数据类型", "data.kind.parcels": "地块", "data.kind.zones": "产业区块",
    "data.kind.districts": "行政区", "data.layer": "图层或工作表（有多个时）",
    "data.land_use": "缺少用地性质的行按", "data.from_file": "按文件",
    "data.encoding": "文字编码（无 .cpg 的 Shapefile、CSV）", "data.uploading": "正在上传文件……", "data.map": "字段对应（字段=列名 …）",
    "data.dry_run": "仅检查，不写入", "data.dry_run.short": "仅检查",
    "data.skip_invalid": "部分行被拒时仍写入通过的行（默认：全部通过才写入）",
    "data.start": "导入", "data.job": "导入 {id}（{file}）",
    "data.status.queued": "排队中", "data.status.running": "进行中", "data.status.succeeded": "成功",
    "data.status.refused": "被拒，未写入", "data.status.failed": "失败",
    "data.status.cancelled": "已取消，未写入", "data.cancel": "取消导入",
    "data.phase.reading": "读取文件", "data.phase.geometry": "检查图形", "data.phase.staging": "暂存",
    "data.phase.locating": "空间定位", "data.phase.rules": "规则校验", "data.phase.overlaps": "列出重叠",
    "data.phase.inserting": "写入", "data.phase.done": "完成",
    "data.counts": "读取 {read}，通过 {accepted}，被拒 {refused}", "data.row": "行",
    "data.code": "拒绝代码", "data.report": "下载全部被拒行（CSV）", "data.read": "读取", "data.accepted": "通过",
    "data.refused": "被拒", "data.by": "提交人", "data.when": "时间",
    "lang.switch": "English", "lang.switch.aria": "Switch to English",
    logout: "退出", "login.title": "登录", "login.username": "用户名", "login.password": "密码",
    "login.submit": "登录", "login.failed": "登录失败：{detail}",
    "search.label": "查找地块", "search.placeholder": "地块编号，如 310115-LG-000001", "search.go": "查找",
    "search.none": "没有编号为 {code} 的现状地块。",
    "style.label": "地块着色", "style.tier": "分级", "style.legacy_zone": "原区块", "style.status": "状态",
    "legend.title": "图例", "legend.zone.base": "产业基地", "legend.zone.community": "产业社区",
    "legend.district": "区界",
    "tier.base": "产业基地", "tier.community": "产业社区", "tier.fragment": "零星工业地块",
    "legacy.104": "104 区块", "legacy.195": "195 区域", "legacy.198": "198 区域", "legacy.none": "无",
    "status.planned": "规划", "status.supplied": "已供地", "status.under_construction": "在建",
    "status.operating": "投产", "status.rectification": "整改", "status.exiting": "退出中", "status.recovered": "已收回",
    "panel.close": "关闭", "panel.loading": "加载中…", "panel.title": "地块 {code}",
    "panel.facts": "基本信息", "panel.code": "编号", "panel.district": "行政区", "panel.tier": "分级",
    "panel.zone": "所在区域", "panel.land_use": "用途", "panel.area": "面积", "panel.plot_ratio": "容积率",
    "panel.cap": "上限", "panel.cap_source": "依据：{source}", "panel.status": "状态",
    "panel.lock": "规划锁定", "panel.locked": "已锁定（先进制造业基地，不得改变用途）",
    "panel.unlocked": "未锁定", "panel.contract": "出让合同", "panel.no_contract": "无有效合同",
    "panel.enterprise": "企业", "panel.term": "年限", "panel.signed": "{date} 签订，{expires} 到期",
    "panel.indicators": "绩效指标", "panel.indicator": "指标", "panel.target": "约定值",
    "panel.latest": "{date} 实测", "panel.latest.none": "实测",
    "badge.label": "一览", "badge.locked": "规划锁定", "badge.capped": "已达上限 {cap}",
    "badge.scheduled": "{date} 待评估", "badge.overdue": "自 {date} 起逾期未评估",
    "badge.rectification": "整改中，期限 {date}", "badge.below": "低于底线（{date}）",
    "lock.true": "已锁定", "lock.false": "未锁定", "style.planning_locked": "规划锁定",
    "panel.evaluations": "评估", "panel.due": "待评估", "panel.past": "已评估", "panel.none": "无",
    "panel.requests": "容积率申请", "panel.history": "历史版本", "panel.version": "版本",
    "panel.valid_from": "起", "panel.valid_to": "止", "panel.now": "至今",
    "land_use.industrial": "工业", "land_use.rnd": "研发", "land_use.office": "办公",
    "land_use.commercial": "商业", "land_use.other": "其他",
    "cap_source.default": "默认上限", "cap_source.zone": "区域上限", "cap_source.reference": "参照地块",
    "cap_source.approved_request": "已批申请",
    "indicator.investment_intensity": "投资强度", "indicator.output_per_mu": "亩均产出",
    "indicator.tax_per_mu": "亩均税收", "indicator.energy_per_value_added": "单位增加值能耗",
    "indicator.emissions_per_value_added": "单位增加值排放", "indicator.rnd_intensity": "研发投入强度",
    "indicator.jobs": "就业人数",
    "stage.commissioning": "达产评估", "stage.periodic": "过程评估", "stage.rectification": "整改复评",
    "stage.expiry": "到期评估",
    "outcome.pass": "达标", "outcome.below_bottom_line": "低于底线",
    "eval.status.scheduled": "待评估", "eval.status.overdue": "逾期", "eval.status.completed": "已完成",
    "eval.status.cancelled": "已取消",
    "contract.status.active": "履约中", "contract.status.rectification": "整改中", "contract.status.exiting": "退出中",
    "contract.status.terminated": "已终止", "contract.status.expired": "已到期",
    "req.status.submitted": "已提交", "req.status.public_notice": "公示中", "req.status.approved": "已批准",
    "req.status.rejected": "已驳回", "req.status.withdrawn": "已撤回",
    "req.route.district": "区级审批", "req.route.city": "市级审批",
    "req.new": "申请提高容积率", "req.requested": "申请容积率", "req.reason": "理由",
    "req.reference": "参照办公/商业地块编号（超过上限时；可选）",
    "req.submit": "提交申请", "req.submitted": "申请 {id} 已提交（{route}）。",
    "req.notice": "登记公示", "req.notice_from": "公示自", "req.notice_to": "至",
    "req.approve": "批准", "req.reject": "驳回", "req.withdraw": "撤回",
    "req.done": "申请 {id}：{status}。", "req.age": "{days} 天",
    "queues.title": "待办", "queues.scope.city": "全市", "queues.scope.district": "{name}",
    "queues.requests": "容积率申请", "queues.evaluations": "待评估与逾期评估",
    "queues.rectification": "整改中的合同", "queues.exits": "拟退出",
    "queues.empty": "暂无。", "queues.more": "显示 {shown} / 共 {total}",
    "col.parcel": "地块", "col.district": "行政区", "col.status": "状态", "col.route": "审批层级",
    "col.current": "现容积率", "col.requested": "申请值", "col.age": "已用时", "col.actions": "操作",
    "col.contract": "合同", "col.enterprise": "企业", "col.stage": "阶段", "col.due": "应评日期",
    "col.overdue": "逾期", "col.reason": "原因", "col.since": "起始", "col.rectify_by": "整改期限",
    "col.submitted_by": "提交人",
    "reason.repeated_below_bottom_line": "多次低于底线", "reason.failed_rectification": "整改未通过",
    "reason.expired": "期满", "reason.idle_land": "闲置土地",
    "dash.title": "产业用地与目标对照", "dash.as_of": "截至 {date}",
    "dash.total": "工业与研发用地（未退出）", "dash.total.short": "工业与研发用地",
    "dash.base_am.short": "先进制造业基地", "dash.target2020": "2020 年目标约 550 平方公里",
    "dash.band2035": "2035 年 320–480 平方公里", "dash.base_am": "先进制造业基地",
    "dash.target2025": "2025 年目标 ≥ 150 平方公里", "dash.met": "已达到", "dash.not_met": "未达到",
    "dash.within_band": "在 2035 年区间内", "dash.outside_band": "不在 2035 年区间内",
    "dash.by_tier": "按分级", "dash.by_district": "按行政区", "dash.trajectory": "2035 年路径",
    "dash.trajectory.note": "历史记录（规则 10）及从今天到 2035 年区间的直线路径。",
    "dash.per_year": "每年 {value} 平方公里，2035 年达到 {target} 平方公里",
    "dash.evaluations": "评估进度（未来 {days} 天）", "dash.due": "待评估", "dash.overdue": "逾期",
    "dash.exits": "退出进度", "dash.candidates": "拟退出", "dash.cases_open": "退出办理中",
    "dash.cases_completed": "已退出", "dash.rectification": "整改中的合同",
    "dash.classes": "A–D 绩效分类（{year} 年）", "dash.class": "{c} 类",
    "col.km2": "平方公里", "col.parcels": "地块数", "col.year": "年份", "col.count": "数量", "col.tier": "分级",
    "unit.mu": "亩", "yes": "是", "no": "否",
    "error.generic": "出错了：{detail}",
    "err.FAR_CAP_EXCEEDED": "容积率 {requested} 超过上限 {cap}。",
    "err.FAR_NOT_INCREASED": "申请容积率 {requested} 不高于现状 {current}。",
    "err.REQUEST_CONFLICT": "该地块的申请 {open_request_id} 尚未办结。",
    "err.CONTRACT_IN_RECTIFICATION": "该地块合同处于{contract_status}，恢复履约前不能申请。",
    "err.NOTICE_PERIOD_NOT_OVER": "公示期至 {notice_ends_on}，期满前不能审批。",
    "err.SELF_APPROVAL_FORBIDDEN": "本申请由您提交，须由他人审批。",
    "err.FORBIDDEN_DISTRICT": "该地块不在您的辖区内。",
    "err.FORBIDDEN_ROLE": "您的角色无权进行此操作。",
    "err.INVALID_TRANSITION": "申请当前状态（{status}）不能执行此操作。",
    "err.VERSION_CONFLICT": "数据已被他人修改，请刷新后重试。",
    "err.UNAUTHENTICATED": "请重新登录。",
    "err.VALIDATION_ERROR": "输入有误。",
    "err.NOT_FOUND": "未找到。",
    "err.TOO_MANY_REQUESTS": "尝试次数过多，请 {retry_after} 秒后再试。",
  },
};

const listeners = new Set();
let current = localStorage.getItem("lc.lang")
  || ((navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en");

export function lang() {
  return current;
}

/** The label `key` in the current language, with `{name}` filled from `params` (missing keys show as-is). */
export function t(key, params = {}) {
  const text = LABELS[current][key] ?? LABELS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (params[name] ?? `{${name}}`).toString());
}

/** Whether a label exists (for codes the page has no words of its own for). */
export function has(key) {
  return key in LABELS[current];
}

export function setLang(next) {
  current = next;
  localStorage.setItem("lc.lang", next);
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
  applyLabels(document);
  listeners.forEach((fn) => fn(next));
}

export function onLangChange(fn) {
  listeners.add(fn);
}

/** Fill [data-i18n] text, [data-i18n-placeholder] and [data-i18n-aria] attributes under `root`. */
export function applyLabels(root) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-aria]").forEach((el) => { el.setAttribute("aria-label", t(el.dataset.i18nAria)); });
}

/** A number in the current locale (fixed decimals when asked). */
export function num(value, digits) {
  if (value === null || value === undefined) return "–";
  const opts = digits === undefined ? { maximumFractionDigits: 2 } : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return Number(value).toLocaleString(current === "zh" ? "zh-CN" : "en-US", opts);
}

/** A district's or zone's name: the data's Chinese name, with the English one beside it in English. */
export function placeName(item) {
  if (!item) return "–";
  const zh = item.name_zh || item.name;
  if (current === "en" && item.name_en) return zh ? `${zh} ${item.name_en}` : item.name_en;
  return zh || item.name_en || item.code;
}

/** A plot ratio: one or two decimals (2.0, 2.35). */
export function ratio(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString(current === "zh" ? "zh-CN" : "en-US",
    { minimumFractionDigits: 1, maximumFractionDigits: 2 });
}
