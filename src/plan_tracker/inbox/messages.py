"""What the inbox says to people, in the plan's locale: one catalogue of message ids.

Unit staff read these sentences in receipts, error files and on the command line, so they
follow `plan.locale` (Chinese by default, English for `locale: en`). A problem is recorded
as a `Msg` (an id and named fields) where it is found — readers and the hostile-file checks
do not know the plan — and worded once the reader is known: `ingest` knows the plan (it is
named by the inbox folder or `--plan`) before it reads a single byte of the file, so every
file and row problem is worded in the plan's locale.

Messages with no plan to ask (a misconfigured inbox folder, an invalid plan id) are worded
by `bilingual`: the Chinese sentence, then the English one in parentheses.

Templates are `str.format` strings filled by `wording.Catalogue` (a field that is a `Msg` is
worded in the same locale; a tuple or list is joined with the locale's list separator). English keeps the
sentences the inbox has always written; English `{detail}` is the English wording of a
domain error, which Chinese rephrases from the other fields.
"""

from __future__ import annotations

from plan_tracker.wording import DEFAULT_LOCALE, LIST_SEPARATOR, LOCALES, Catalogue, Msg, fields_of

__all__ = ["DEFAULT_LOCALE", "LIST_SEPARATOR", "LOCALES", "MESSAGES", "Msg", "bilingual", "fields_of", "msg", "word"]

MESSAGES: dict[str, dict[str, str]] = {
    # -- how a located problem reads (errors.RowError) ---------------------------------------
    "where.row": {"zh": "第{row}行", "en": "row {row}"},
    "where.column": {"zh": "{letter}列「{header}」", "en": "{letter} {header}"},
    "where.letter": {"zh": "{letter}列", "en": "{letter}"},
    "where.key": {"zh": "「{key}」", "en": "{key}"},
    "where.yaml_column": {"zh": "第{column}列", "en": "col {column}"},
    "problem": {"zh": "{where}：{expected}", "en": "{where}: {expected}"},
    "found": {"zh": "{text}（填写的是“{found}”）", "en": "{text} (found {found!r})"},
    "none": {"zh": "无", "en": "none"},
    # -- one row (rows.py) ---------------------------------------------------------------------
    "row.other_unit": {
        "zh": "本行填报单位为“{claimed}”，但本文件来自“{unit}”，只能填报本单位的事项",
        "en": "this row names unit {claimed!r}; a file from unit {unit!r} may report only on {unit!r}'s own "
              "obligations"},
    "row.task_required": {"zh": "请填写任务编号", "en": "a task id (任务编号) is required"},
    "row.unknown_task": {"zh": "计划“{plan}”中没有这个任务编号", "en": "plan {plan!r} has no task with this id"},
    "row.stale": {
        "zh": "{what}已不在计划中（本表依据第{old}版计划生成，计划现为第{new}版），请联系督查部门重新下发模板",
        "en": "{what} is no longer in the plan (the file was made from version {old}, the plan is now at version "
              "{new}); ask the coordinator for a new template"},
    "stale.task": {"zh": "该任务", "en": "this task"},
    "stale.period": {"zh": "该期间", "en": "this period"},
    "stale.obligation": {"zh": "该事项", "en": "this obligation"},
    "row.period_required": {"zh": "请填写期间：本任务按{every}报送，例如 {example}",
                            "en": "a period of this {every} task, e.g. {example}"},
    "row.period_not_once": {"zh": "本任务为一次性任务，期间请填写 once 或留空", "en": "{detail}"},
    "row.period_malformed": {"zh": "期间格式不对：本任务按{every}报送，应填写如 {example}", "en": "{detail}"},
    "row.period_outside": {"zh": "期间“{key}”不在计划“{plan}”的起止日期（{start} 至 {end}）内",
                           "en": "{detail}"},
    "every.week": {"zh": "周", "en": "week"},
    "every.month": {"zh": "月", "en": "month"},
    "every.quarter": {"zh": "季度", "en": "quarter"},
    "every.half_year": {"zh": "半年", "en": "half_year"},
    "every.year": {"zh": "年", "en": "year"},
    "row.status_required": {"zh": "请填写状态：{choices} 之一", "en": "a status: {choices}"},
    "row.status_choice": {"zh": "应为 {choices} 之一", "en": "one of {choices}"},
    "row.progress": {"zh": "应为 0 到 100 之间的整数", "en": "a whole number from 0 to 100"},
    "row.date": {"zh": "应为日期，例如 2018-03-31", "en": "a date such as 2018-03-31"},
    "row.too_long": {"zh": "最多 {limit} 个字（本格有 {length} 个字）",
                     "en": "at most {limit} characters (this cell has {length})"},
    "row.evidence_url": {"zh": "应为以 http:// 或 https:// 开头的网址",
                         "en": "a web link starting with http:// or https://"},
    "row.not_indicator": {
        "zh": "既不是反馈表的列，也不是任务“{task}”的指标（该任务的指标：{names}）",
        "en": "not a column of the report, nor an indicator of task {task!r} (its indicators: {names})"},
    "row.no_header": {"zh": "该列没有表头，无法识别所填内容", "en": "a value in a column without a header"},
    "row.number": {"zh": "应为数字", "en": "a number"},
    "row.future": {"zh": "报送日期 {reported_on} 晚于今天（{today}）", "en": "{detail}"},
    "row.backdated": {"zh": "报送日期 {reported_on} 早于收到之日（{today}）前 {days} 个工作日，最早可填 {earliest}；"
                            "更早的情况请联系牵头协调单位登记", "en": "{detail}"},
    "row.before_period": {"zh": "报送日期 {reported_on} 早于期间开始日（{start}）", "en": "{detail}"},
    "row.bad_report": {"zh": "本行不符合填报规则：{detail}", "en": "{detail}"},
    # -- recording a row (ingest.py) -------------------------------------------------------------
    "row.others_obligation": {
        "zh": "任务“{task}”期间“{period}”的事项由其他单位牵头，“{unit}”只能填报本单位的事项",
        "en": "task {task!r} for period {period!r} is another unit's obligation; unit {unit!r} may report only "
              "on its own obligations"},
    "row.no_obligation": {"zh": "“{unit}”没有任务“{task}”期间“{period}”的事项",
                          "en": "unit {unit!r} has no obligation for task {task!r} in period {period!r}"},
    "row.not_recorded": {"zh": "本行无法记录：{detail}", "en": "{detail}"},
    # -- the file as a whole (ingest.py) ----------------------------------------------------------
    "file.nul_name": {"zh": "文件名含有 NUL 字符，无法安全读取",
                      "en": "the file name contains a NUL byte; no such file can be read safely"},
    "file.symlink": {"zh": "收件箱中是符号链接而不是文件，链接一律不予跟随",
                     "en": "the inbox holds a symbolic link, not a file; links are never followed"},
    "file.missing": {"zh": "文件不存在", "en": "no such file"},
    "file.cannot_open": {"zh": "文件无法打开（{detail}）", "en": "the file cannot be opened ({detail})"},
    "file.not_regular": {"zh": "不是普通文件", "en": "not a regular file"},
    "file.too_big": {"zh": "文件大小为 {size} 字节，上限为 {cap} 字节", "en": "the file has {size} bytes; the cap is {cap}"},
    "file.cannot_read": {"zh": "文件无法读取（{detail}）", "en": "the file cannot be read ({detail})"},
    "file.growing": {"zh": "文件仍在写入，留待下次处理", "en": "the file is still growing; it is left for the next run"},
    "file.other_plan": {"zh": "本文件属于计划“{claimed}”，不是“{plan}”", "en": "this file is for plan {claimed!r}, not {plan!r}"},
    "file.no_unit_sheet": {
        "zh": "无法确定报送单位：缺少隐藏工作表 _meta，也没有“单位编号”标识行",
        "en": "cannot tell which unit sent this file: the hidden sheet _meta is missing and no 单位编号 identity row "
              "was found"},
    "file.no_unit_yaml": {"zh": "无法确定报送单位：缺少 unit 键",
                          "en": "cannot tell which unit sent this file: the key `unit` is missing"},
    "file.unknown_unit": {"zh": "计划“{plan}”中没有这个单位编号", "en": "plan {plan!r} has no unit with this id (单位编号)"},
    "file.version_not_whole": {"zh": "计划版本应为整数", "en": "the plan version must be a whole number"},
    "file.version_newer": {
        "zh": "本文件依据第{template}版计划生成，但系统中该计划只有第{stored}版：不是本计划历次版本生成的文件",
        "en": "this file was made from plan version {template}, but the store holds version {stored} of this plan: "
              "it does not come from this plan's history"},
    "file.no_filled_rows": {"zh": "没有填写任何一行（每行的“状态”均为空）", "en": "no filled-in rows (状态 is empty on every row)"},
    "file.no_row_accepted": {"zh": "没有可以接收的行", "en": "no row could be accepted"},
    "file.rows_rejected": {"zh": "{count} 行未通过校验，详见错误清单", "en": "{count} row(s) rejected: see the error file"},
    "file.ingested_on": {"zh": "该文件已于 {day} 接收", "en": "the same file was ingested on {day}"},
    "file.ingested_before": {"zh": "该文件此前已接收", "en": "the same file was ingested before"},
    # -- receipts (ingest.FileReceipt) and the `ingest` command ------------------------------------
    "outcome.accepted": {"zh": "已接收", "en": "accepted"},
    "outcome.partial": {"zh": "部分接收", "en": "partial"},
    "outcome.rejected": {"zh": "已退回", "en": "rejected"},
    "outcome.already_ingested": {"zh": "已接收过", "en": "already ingested"},
    "summary.already": {"zh": "{file}：已接收过，未作任何更改（{reason}）",
                        "en": "{file}: already ingested; nothing changed ({reason})"},
    "summary.refused": {"zh": "{file}：已退回 — {reason}", "en": "{file}: rejected — {reason}"},
    "summary.counts": {
        "zh": "{file}：{outcome} — 接收 {accepted} 行，已有记录 {duplicates} 行，退回 {rejected} 行，空白 {blank} 行",
        "en": "{file}: {outcome} — {accepted} row(s) accepted, {duplicates} already recorded, {rejected} rejected, "
              "{blank} blank"},
    "summary.reason": {"zh": "{text} — {reason}", "en": "{text} — {reason}"},
    "receipt.more": {"zh": "……另有 {count} 条", "en": "… and {count} more"},
    "receipt.errors_file": {"zh": "错误清单：{path}", "en": "error file: {path}"},
    "receipt.receipt_file": {"zh": "回执：{path}", "en": "receipt: {path}"},
    # -- reading a file (readers.py) ----------------------------------------------------------------
    "kind.xls": {"zh": "这是旧版 Excel 97-2003 工作簿，请另存为 .xlsx",
                 "en": "this is an old Excel 97-2003 workbook; save it as .xlsx"},
    "kind.xlsm": {"zh": "这是启用宏的工作簿，请另存为 .xlsx（一律不接受宏）",
                  "en": "this is a macro-enabled workbook; save it as .xlsx (macros are never accepted)"},
    "kind.xlsb": {"zh": "这是二进制工作簿，请另存为 .xlsx", "en": "this is a binary workbook; save it as .xlsx"},
    "kind.et": {"zh": "这是 WPS 表格文件，请另存为 .xlsx（文件 → 另存为 → Excel 工作簿）",
                "en": "this is a WPS workbook; save it as .xlsx (文件 → 另存为 → Excel 工作簿)"},
    "kind.ods": {"zh": "这是 OpenDocument 电子表格，请另存为 .xlsx",
                 "en": "this is an OpenDocument spreadsheet; save it as .xlsx"},
    "kind.unsupported": {"zh": "不支持“{suffix}”类型的文件，请报送 .xlsx、.csv 或 .yaml 文件",
                         "en": "unsupported file type {suffix!r}; send .xlsx, .csv or .yaml"},
    "kind.no_suffix": {"zh": "文件没有扩展名，请报送 .xlsx、.csv 或 .yaml 文件",
                       "en": "unsupported file type '(none)'; send .xlsx, .csv or .yaml"},
    "sheet.too_many_rows": {"zh": "工作表的数据超过 {limit} 行", "en": "the sheet has more than {limit} data rows"},
    "sheet.no_header": {"zh": "前 {limit} 行中没有表头行（须含“{task}”和“{status}”）",
                        "en": "no header row (with {task} and {status}) in the first {limit} rows"},
    "sheet.column_twice": {"zh": "“{name}”列出现了两次（{first} 列和 {second} 列）",
                           "en": "column {name!r} appears twice ({first} and {second})"},
    "sheet.header_lacks": {"zh": "表头行缺少 {missing}", "en": "the header row lacks {missing}"},
    "sheet.unreadable": {"zh": "工作表无法读取（{detail}）", "en": "the sheet cannot be read ({detail})"},
    "workbook.unreadable": {"zh": "工作簿无法读取（{detail}）", "en": "the workbook cannot be read ({detail})"},
    "workbook.meta_unreadable": {"zh": "隐藏工作表 {meta_sheet} 无法读取（{detail}）",
                                 "en": "the hidden sheet {meta_sheet} cannot be read ({detail})"},
    "workbook.no_sheet": {"zh": "工作簿中没有反馈表", "en": "the workbook has no report sheet"},
    "workbook.meta_mismatch": {
        "zh": "隐藏工作表 {meta_sheet} 中的{key}为“{meta}”，与标识行的“{identity}”不一致",
        "en": "the hidden sheet {meta_sheet} says {key} {meta!r} but the identity row says {identity!r}"},
    "identity.plan": {"zh": "计划编号", "en": "plan"},
    "identity.unit": {"zh": "单位编号", "en": "unit"},
    "csv.too_many_rows": {"zh": "文件超过 {limit} 行（数据行最多 {data_rows} 行）",
                          "en": "the file has more than {limit} rows (at most {data_rows} data rows)"},
    "csv.too_many_columns": {"zh": "该行有 {count} 列，最多读取 {limit} 列",
                             "en": "row has {count} columns; at most {limit} are read"},
    "csv.malformed": {"zh": "CSV 文件格式有误：{detail}", "en": "the CSV is malformed: {detail}"},
    "yaml.too_big": {"zh": "YAML 报送文件最大 {limit} 字节，本文件有 {size} 字节",
                     "en": "YAML report files are limited to {limit} bytes; this one has {size}"},
    "yaml.not_utf8": {"zh": "YAML 文件不是 UTF-8 文本", "en": "the YAML file is not UTF-8 text"},
    "yaml.syntax": {"zh": "YAML 格式有误：{detail}", "en": "{detail}"},
    "yaml.unknown_keys": {"zh": "未知的顶层键 {unknown}，应为 {expected}",
                          "en": "unknown top-level key(s) {unknown}; expected {expected}"},
    "yaml.reports_not_list": {"zh": "reports 应为报送条目的列表", "en": "`reports` must be a list of reports"},
    "yaml.too_many_reports": {"zh": "文件中的报送条目超过 {limit} 条", "en": "the file has more than {limit} reports"},
    # -- hostile files (safety.py) ------------------------------------------------------------------
    "safety.too_slow": {"zh": "读取文件超过 {seconds:g} 秒，文件过于复杂，不予接收",
                        "en": "reading the file took longer than {seconds:g} s; it is refused as too complex"},
    "safety.utf16": {"zh": "文件为 UTF-16 文本（Excel 的“Unicode 文本”），请另存为“CSV UTF-8”或普通 CSV",
                     "en": "the file is UTF-16 text (Excel's 'Unicode text'); save it as 'CSV UTF-8' or plain CSV"},
    "safety.nul_bytes": {"zh": "文件含有 NUL 字节：是二进制文件，不是 CSV 文本",
                         "en": "the file contains NUL bytes: it is binary, not CSV text"},
    "safety.encoding": {"zh": "文件既不是 UTF-8 也不是 GB18030/GBK 文本，请另存为“CSV UTF-8”",
                        "en": "the file is neither UTF-8 nor GB18030/GBK text; save it as 'CSV UTF-8'"},
    "safety.yaml_aliases": {"zh": "报送文件不接受 YAML 别名（*name）",
                            "en": "YAML aliases (*name) are not accepted in report files"},
    "safety.yaml_anchors": {"zh": "报送文件不接受 YAML 锚点（&name）",
                            "en": "YAML anchors (&name) are not accepted in report files"},
    "safety.yaml_tags": {"zh": "报送文件不接受 YAML 标签（!name）",
                         "en": "YAML tags (!name) are not accepted in report files"},
    "safety.old_xls": {
        "zh": "这是旧版 .xls 工作簿或加密文件，请另存为不设密码的 .xlsx",
        "en": "this is an old .xls workbook or a password-protected file; save it as .xlsx without a password"},
    "safety.not_zip": {"zh": "不是 XLSX 工作簿（.xlsx 文件是 zip 压缩包）",
                       "en": "not an XLSX workbook (an .xlsx file is a zip archive)"},
    "safety.damaged": {"zh": "工作簿已损坏（{detail}）", "en": "the workbook is damaged ({detail})"},
    "safety.part_damaged": {"zh": "工作簿已损坏：部件“{name}”：{detail}",
                            "en": "the workbook is damaged: part {name!r}: {detail}"},
    "safety.too_many_parts": {"zh": "工作簿有 {count} 个部件，最多接受 {limit} 个",
                              "en": "the workbook has {count} parts; at most {limit} are accepted"},
    "safety.unsafe_archive": {"zh": "压缩包不安全：{problem}", "en": "unsafe archive: {problem}"},
    "safety.name_nul": {"zh": "部件名含有 NUL 字节", "en": "a part name contains a NUL byte"},
    "safety.name_absolute": {"zh": "部件名“{name}”是绝对路径或 Windows 路径",
                             "en": "part name {name!r} is an absolute or Windows path"},
    "safety.name_climbs": {"zh": "部件名“{name}”试图跳出压缩包（'..'）",
                           "en": "part name {name!r} climbs out of the archive ('..')"},
    "safety.part_twice": {"zh": "压缩包不安全：部件“{name}”出现了两次",
                          "en": "unsafe archive: part {name!r} appears twice"},
    "safety.encrypted": {"zh": "工作簿已加密，请取消密码后另存", "en": "the workbook is encrypted; save it without a password"},
    "safety.compression": {"zh": "部件“{name}”使用了 XLSX 文件不会使用的压缩方式",
                           "en": "part {name!r} uses a compression XLSX files never use"},
    "safety.part_declares": {"zh": "部件“{name}”声明解压后为 {size} 字节，上限为 {cap} 字节",
                             "en": "part {name!r} declares {size} bytes uncompressed; the cap is {cap}"},
    "safety.part_declared_ratio": {"zh": "部件“{name}”解压后膨胀 {ratio} 倍，上限为 {cap} 倍（疑为压缩炸弹）",
                                   "en": "part {name!r} expands {ratio} times; the cap is {cap} (zip bomb?)"},
    "safety.total_declared": {"zh": "工作簿声明解压后超过 {limit} 字节（疑为压缩炸弹）",
                              "en": "the workbook declares more than {limit} bytes uncompressed (zip bomb?)"},
    "safety.part_over_cap": {"zh": "部件“{name}”解压后超过上限 {cap} 字节（疑为压缩炸弹）",
                             "en": "part {name!r} expands beyond its cap of {cap} bytes (zip bomb?)"},
    "safety.part_ratio": {"zh": "部件“{name}”解压后膨胀超过 {limit} 倍（疑为压缩炸弹）",
                          "en": "part {name!r} expands more than {limit} times (zip bomb?)"},
    "safety.dtd": {"zh": "部件“{name}”声明了 DTD 或实体（<!DOCTYPE>/<!ENTITY>），按 XML 炸弹拒收",
                   "en": "part {name!r} declares a DTD or entities (<!DOCTYPE>/<!ENTITY>): refused as an XML bomb"},
    "safety.forged": {"zh": "部件“{name}”有超出 Excel 最大行或最大列的单元格：工作表系伪造",
                      "en": "part {name!r} has a cell beyond Excel's last row or column: a forged sheet"},
    "safety.too_many_columns": {"zh": "工作表用到了 {letters} 列，反馈表最多 {limit} 列",
                                "en": "a sheet uses column {letters}; report sheets have at most {limit} columns"},
    "safety.too_many_rows": {
        "zh": "工作表第 {row_number} 行有内容，反馈表只读取到第 {limit} 行（数据行最多 {data_rows} 行）",
        "en": "a sheet has content in row {row_number}; report sheets are read up to row {limit} "
              "(at most {data_rows} data rows)"},
    "safety.xml_not_utf8": {"zh": "部件“{name}”不是 UTF-8 编码的 XML", "en": "part {name!r} is not UTF-8 encoded XML"},
    "safety.xml_encoding": {"zh": "部件“{name}”声明的编码为“{encoding}”，只接受 UTF-8",
                            "en": "part {name!r} declares encoding {encoding!r}; only UTF-8 is accepted"},
    # -- the inbox folder and templates (folders.py, template.py) -------------------------------------
    "folder.not_plan_id": {"zh": "“{plan}”不是计划编号，不能作为收件箱文件夹名",
                           "en": "{plan!r} is not a plan id; it cannot name an inbox folder"},
    "folder.link_out": {"zh": "{target} 是指向收件箱文件夹 {root} 之外的链接，拒绝写入",
                        "en": "{target} is a link out of the inbox folder {root}; refusing to write there"},
    "folder.not_folder": {"zh": "{target} 不是文件夹", "en": "{target} is not a folder"},
    "folder.leads_outside": {"zh": "{target} 指向收件箱文件夹 {root} 之外，拒绝写入",
                             "en": "{target} leads outside the inbox folder {root}; refusing to write there"},
    "folder.not_plain": {"zh": "{target} 不是 {folder} 中的普通文件名", "en": "{target} is not a plain name inside {folder}"},
    "template.unknown_unit": {"zh": "计划“{plan}”中没有单位“{unit}”", "en": "plan {plan!r} has no unit {unit!r}"},
    # -- answers by e-mail (services/replies.py): the receipt sent back to the sender ------------------
    "mail.subject": {"zh": "回执：{subject}", "en": "Receipt: {subject}"},
    "mail.greeting": {"zh": "您好：\n\n我们于 {day} 收到您的邮件，处理结果如下。",
                      "en": "Hello,\n\nyour e-mail reached us on {day}; this is what became of it."},
    "mail.refused_file": {"zh": "附件“{file}”：不予受理 — {reason}", "en": "attachment {file!r}: refused — {reason}"},
    "mail.refused": {"zh": "邮件不予受理 — {reason}", "en": "the e-mail was refused — {reason}"},
    "mail.no_attachment": {
        "zh": "邮件没有附带报送模板，仅凭正文（如“已完成”）无法登记。请填写提醒邮件所附的电子表格，作为附件回复本邮件。",
        "en": "the e-mail carries no report form, and its text alone (such as \"done\") cannot be recorded. Fill in "
              "the spreadsheet attached to the reminder and reply with it attached."},
    "mail.unsigned": {
        "zh": "这不是督查部门下发的报送模板，或模板的隐藏标识已被改动；请使用提醒邮件所附的模板",
        "en": "this is not a form sent by the coordinating office, or its hidden identity sheet was altered; use the "
              "form attached to the reminder"},
    "mail.not_unit_address": {
        "zh": "该模板属于“{unit}”，只接受其联络员、负责人或登记邮箱的回复，本邮件发自 {sender}",
        "en": "this form belongs to {unit!r}: only its contact, head or registered addresses may return it, and this "
              "e-mail came from {sender}"},
    "mail.other_plan": {"zh": "该模板属于计划“{claimed}”，但本邮件回复的是计划“{plan}”的提醒",
                        "en": "this form belongs to plan {claimed!r}, but the e-mail answers a reminder of plan {plan!r}"},
    "mail.unknown_plan": {"zh": "无法判断邮件所属的计划，请直接回复提醒邮件并附上其中的模板",
                          "en": "no plan could be told from the e-mail: reply to the reminder with its form attached"},
    "mail.too_big": {"zh": "邮件大小 {size} 字节，超过上限 {cap} 字节，未予读取",
                     "en": "the e-mail is {size} bytes, over the cap of {cap} bytes; it was not read"},
    "mail.too_many": {"zh": "邮件附带 {count} 个表格，超过上限 {cap} 个，请分几封邮件发送",
                      "en": "the e-mail carries {count} spreadsheets, over the cap of {cap}; send them in several e-mails"},
    "mail.unreadable": {"zh": "邮件结构无法解析，请重新发送", "en": "the e-mail's structure could not be read; send it again"},
    "mail.sender_failed": {"zh": "发件服务器的身份验证结果为未通过（{result}），无法确认发件人",
                           "en": "the receiving server found the sender's authentication failing ({result}): the sender "
                                 "cannot be trusted"},
    "mail.footer": {"zh": "本回执由系统自动发送。如有疑问，请联系{coordinator}。",
                    "en": "This receipt was sent automatically. Questions: {coordinator}."},
}


CATALOGUE = Catalogue(MESSAGES)
msg = CATALOGUE.msg
word = CATALOGUE.word


def bilingual(message: Msg) -> str:
    """For readers no plan can name: the Chinese sentence, the English one in parentheses."""
    return f"{message.render('zh')}（{message.render('en')}）"
