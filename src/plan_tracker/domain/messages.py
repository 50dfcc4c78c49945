"""What the project's errors (and the CLI's receipts) say, in the plan's locale: one
catalogue of message keys.

Every error the project raises for bad input (`domain.errors.WordedError`: DomainError and
its subclasses, the own "not found" LookupErrors, the CLI's BadInput, plan-file problems)
carries a key of this catalogue and named fields; the edge words it in the reader's locale
— the CLI in the plan's (`plan.locale`, else PLAN_TRACKER_LOCALE, else Chinese), `str()` in
English for logs and the API. The inbox (`inbox/messages.py`) and `plan preview`
(`authoring/messages.py`) keep their own catalogues of the same shape, built on
`plan_tracker.wording.Catalogue`; the record's words (lights, statuses, levels) are in
`domain/vocabulary.py`.

Adding a message: a key here with a `zh` and an `en` template naming the same fields, then
`raise SomeError("the.key", field=value)`. `tests/test_error_messages.py` checks both
languages name the same fields and that no raise site passes an English sentence.

Pure data plus `msg`/`word`: the domain imports it, so it imports only `wording`.
"""

from __future__ import annotations

import errno
from typing import Any

from plan_tracker.wording import DEFAULT_LOCALE, Catalogue, Msg

MESSAGES: dict[str, dict[str, str]] = {
    # -- suggestions for mistyped ids (domain/suggestions.py) ------------------------------------
    "suggest.did_you_mean": {"zh": "（是否应为“{match}”？）", "en": " (did you mean {match!r}?)"},
    "suggest.nothing": {"zh": "", "en": ""},
    "suggest.hint": {"zh": "是否应为“{match}”？{known}", "en": "did you mean {match!r}? {known}"},
    "suggest.known": {"zh": "已有：{ids}", "en": "known: {ids}"},
    "suggest.known_more": {"zh": "已有：{ids} 等（另有 {more} 个）", "en": "known: {ids} and {more} more"},
    "suggest.none_known": {"zh": "目前一个也没有", "en": "none known"},
    "suggest.unknown": {"zh": "没有{what}“{word}”{did_you_mean}；{known}", "en": "no {what} {word!r}{did_you_mean}; {known}"},
    "what.example": {"zh": "示例", "en": "example"},
    # -- the command line's own checks (commands/*) ------------------------------------------------
    "cli.validated": {"zh": "{file}：通过 — 计划 {plan}，单位 {units} 个，任务 {tasks} 项，督办事项 {obligations} 项",
                      "en": "{file}: ok — plan {plan}, {units} units, {tasks} tasks, {obligations} obligations"},
    "cli.recorded": {"zh": "已记录报送 #{report}：{task} / {unit} / {period} = {status}（{code}），报送日期 {day}",
                     "en": "recorded report #{report}: {task} / {unit} / {period} = {status} ({code}) on {day}"},
    "cli.problems_found": {"zh": "共发现 {count} 个问题", "en": "{count} problem(s) found"},
    "cli.error": {"zh": "错误：{message}", "en": "error: {message}"},
    "cli.not_a_date": {"zh": "{what} 的值“{value}”不是日期（应为 YYYY-MM-DD）",
                       "en": "{what} {value!r} is not a date (expected YYYY-MM-DD)"},
    "cli.not_a_moment": {"zh": "--now 的值“{value}”不是日期时间（应为 ISO 8601，例如 2018-10-09T09:00+08:00）",
                         "en": "--now {value!r} is not a date-time (expected ISO 8601, e.g. 2018-10-09T09:00+08:00)"},
    "cli.bad_format": {"zh": "--format 应为 {allowed} 之一，给出的是“{value}”",
                       "en": "--format must be one of {allowed}, got {value!r}"},
    "cli.file_exists": {"zh": "{path} 已存在；如要覆盖，请加 --force", "en": "{path} exists; pass --force to overwrite it"},
    "cli.out_not_folder": {"zh": "--out {path} 已存在且不是文件夹", "en": "--out {path} exists and is not a folder"},
    "cli.cannot_write": {"zh": "无法写入 {path}：{reason}", "en": "cannot write {path}: {reason}"},
    "cli.draft_failed": {"zh": "{document}：{reason}", "en": "{document}: {reason}"},
    "cli.strict_warnings": {"zh": "有 {count} 条警告且指定了 --strict：部分催办无人可收",
                            "en": "{count} warning(s) and --strict: nobody can receive some reminders"},
    "cli.since_needs_catch_up": {"zh": "--since 须与 --catch-up 一起使用", "en": "--since goes with --catch-up"},
    "cli.shards_need_prefect": {
        "zh": "--shards 把一晚的计算分给 Prefect 工作节点：请将 PREFECT_API_URL 设为运行 evaluate-shard 部署的 "
              "Prefect 服务器（不能与 --catch-up 同用）",
        "en": "--shards spreads a night over Prefect workers: set PREFECT_API_URL to the Prefect server "
              "whose work pool runs the evaluate-shard deployment (not with --catch-up)"},
    "cli.no_plans": {"zh": "存储中还没有计划；请先用 `plan-tracker plan apply FILE` 导入",
                     "en": "no plans in the store; apply one with `plan-tracker plan apply FILE`"},
    "cli.channel_not_disabled": {"zh": "渠道“{name}”并未停用（见 `plan-tracker channels list`）",
                                 "en": "channel {name!r} is not disabled (see `plan-tracker channels list`)"},
    "cli.stdout_text_only": {"zh": "--out -（标准输出）只用于文本格式；xlsx 请给出文件名",
                             "en": "--out - (standard output) is for text formats; give a file name for xlsx"},
    "cli.plain_http": {
        "zh": "PLAN_TRACKER_PORTAL_URL 是明文 http（{url}）：请通过 https 提供门户（置于反向代理之后，见 "
              "docs/PORTAL.md），或仅在单机开发时设置 PLAN_TRACKER_INSECURE_HTTP=true",
        "en": "PLAN_TRACKER_PORTAL_URL is plain http ({url}): serve the portal over https (behind a reverse proxy, "
              "see docs/PORTAL.md), or set PLAN_TRACKER_INSECURE_HTTP=true for development on one machine"},
    "cli.unit_or_coordinator": {"zh": "--unit U 与 --coordinator 须且只能给出一个",
                                "en": "give exactly one of --unit U or --coordinator"},
    # -- the clock and the secret ----------------------------------------------------------------------
    "clock.bad_now": {"zh": "{variable}=“{value}”不是日期时间（应为 ISO 8601，例如 2026-12-03T09:00+08:00）",
                      "en": "{variable}={value!r} is not a date-time (expected ISO 8601, e.g. 2026-12-03T09:00+08:00)"},
    "secret.fix": {"zh": "请设为随机值（例如 `{generate}`），或不设置，由 plan-tracker 在数据目录中生成（{file}，权限 0600）",
                   "en": "set it to a random value (e.g. `{generate}`), or unset it and plan-tracker generates one in "
                         "the data directory ({file}, mode 0600)"},
    "secret.placeholder": {"zh": "{origin} 是人人可见的占位值；{fix}", "en": "{origin} is a placeholder anyone can read; {fix}"},
    "secret.too_short": {"zh": "{origin} 太短（{length} 个字符，至少 {minimum} 个）；{fix}",
                         "en": "{origin} is too short ({length} characters, at least {minimum}); {fix}"},
    "secret.too_few_distinct": {"zh": "{origin} 只有 {distinct} 种不同字符；{fix}",
                                "en": "{origin} has only {distinct} distinct characters; {fix}"},
    "secret.readable": {"zh": "{path} 其他用户可读（权限 {mode}）；请运行 `chmod 600 {path}`",
                        "en": "{path} is readable by other users (mode {mode}); run `chmod 600 {path}`"},
    # -- the store ---------------------------------------------------------------------------------------
    "store.expected_urls": {"zh": "应为例如 sqlite:////srv/plan-tracker/store.sqlite3 或 postgresql+psycopg://user@host/db",
                            "en": "expected e.g. sqlite:////srv/plan-tracker/store.sqlite3 or postgresql+psycopg://user@host/db"},
    "store.unknown_driver": {"zh": "数据库地址 {url} 指向未知的数据库或驱动（“{driver}”）；{expected}",
                             "en": "the database URL {url} names an unknown database or driver ({driver!r}); {expected}"},
    "store.bad_url": {"zh": "数据库地址 {url} 不是 SQLAlchemy 地址（{reason}）；{expected}",
                      "en": "the database URL {url} is not a SQLAlchemy URL ({reason}); {expected}"},
    "store.missing": {
        "zh": "{url} 处没有存储：{path} 不存在；请用 `plan-tracker plan apply FILE`（或 `plan-tracker init`）创建，"
              "或将 PLAN_TRACKER_DATABASE_URL（或 PLAN_TRACKER_DATA_DIR）设为要用的存储",
        "en": "no store at {url}: {path} does not exist; create it with `plan-tracker plan apply FILE` (or "
              "`plan-tracker init`), or set PLAN_TRACKER_DATABASE_URL (or PLAN_TRACKER_DATA_DIR) to the store you "
              "meant"},
    "store.unknown_plan": {"zh": "存储中没有计划“{plan}”；请先用 `plan-tracker plan apply FILE` 导入",
                           "en": "no plan {plan!r} in the store; apply it first with `plan-tracker plan apply FILE`"},
    "store.unknown_plan_known": {
        "zh": "存储中没有计划“{plan}”{did_you_mean}（存储中的计划：{known}）；请先用 `plan-tracker plan apply FILE` 导入",
        "en": "no plan {plan!r} in the store{did_you_mean} (plans in the store: {known}); apply it first with "
              "`plan-tracker plan apply FILE`"},
    # -- calendars and dates -------------------------------------------------------------------------------
    "calendar.not_covered": {
        "zh": "{year} 年超出工作日历范围：{calendar} 工作日历尚无 {year} 年的官方安排；请在计划的日历中补充该年的节假日和调休上班日"
              "（calendar.years: [{year}]、calendar.holidays、calendar.workdays）",
        "en": "the {calendar} working-day calendar has no official schedule for {year}; add the year's holidays and "
              "adjusted working days to the plan's calendar (calendar.years: [{year}], calendar.holidays, "
              "calendar.workdays)"},
    "calendar.after_last": {
        "zh": "{day} 超出工作日历范围：晚于本计划工作日历（{key}）的最后一天 {last}，{next_year} 年的官方安排尚未收录。每年十一月公布后，"
              "请升级 chinesecalendar（pip install -U chinesecalendar）后重新运行命令（存储中的日历会自动延长），"
              "或在计划的日历中补充该年（calendar.years: [{next_year}]、holidays、workdays）并重新导入；"
              "也可用 --as-of {last} 或更早的日期查询",
        "en": "{day} is after the last day of this plan's working-day calendar ({key}), {last}: the official "
              "schedule for {next_year} is not known to it yet. When it is published (each November), upgrade "
              "chinesecalendar (pip install -U chinesecalendar) and run the command again (the store's calendar "
              "grows by itself), or add the year to the plan's calendar (calendar.years: [{next_year}], holidays, "
              "workdays) and re-apply it; or ask with --as-of {last} or earlier"},
    "calendar.before_first": {
        "zh": "{day} 超出工作日历范围：早于本计划工作日历（{key}）的第一天 {first}；请用 --as-of {first} 或更晚的日期查询",
        "en": "{day} is before the first day of this plan's working-day calendar ({key}), {first}; ask with "
              "--as-of {first} or later"},
    "calendar.outside": {"zh": "{day} 超出工作日历范围（{key}），当年放假安排可能尚未公布",
                         "en": "{day} is outside the working-day calendar of this plan ({key}); the official schedule "
                               "for that year may not be published yet"},
    # -- periods and reports (domain) ------------------------------------------------------------------------
    "period.outside_plan": {"zh": "期间“{key}”不在计划“{plan}”的起止日期（{start} 至 {end}）内",
                            "en": "period {key!r} is outside plan {plan!r} ({start} to {end})"},
    "period.not_once": {"zh": "期间“{key}”不适用于一次性任务（请填 once）",
                        "en": "period {key!r} is not valid for a one-off task (use 'once')"},
    "period.malformed": {"zh": "期间“{key}”不是{every}期间的写法（例如 {example}）",
                         "en": "period {key!r} is not a {every} key (e.g. {example})"},
    "period.no_week": {"zh": "{year} 年没有第 {week} 周（ISO 周）", "en": "{year} has no ISO week {week}"},
    "preview.unknown_unit": {"zh": "未知单位“{unit}”：计划“{plan}”中没有这个单位",
                             "en": "unknown unit {unit!r}: plan {plan!r} has no such unit"},
    "report.unknown_status": {"zh": "未知状态“{value}”；应为 {choices} 之一",
                              "en": "unknown status {value!r}; expected one of {choices}"},
    "report.progress_range": {"zh": "进度须在 0 至 100 之间（填写了 {progress}）",
                              "en": "progress must be between 0 and 100, got {progress}"},
    "report.future": {"zh": "填报日期 {reported_on} 晚于今天（{today}）",
                      "en": "report date {reported_on} is in the future (today is {today})"},
    "report.before_period": {"zh": "填报日期 {reported_on} 早于周期开始日（{start}）",
                             "en": "report date {reported_on} is before the period starts ({start})"},
    "report.backdated": {
        "zh": "填报日期 {reported_on} 早于报送当天（{received_on}）前 {days} 个工作日，最早可填 {earliest}；"
              "更早的情况请联系牵头协调单位登记",
        "en": "report date {reported_on} is more than {days} working days before the day it is sent ({received_on}; "
              "the earliest date allowed is {earliest}); ask the coordinator to record an older report"},
    "report.already_recorded": {"zh": "这条报送已经记录过", "en": "this report was already recorded"},
    "report.unknown_indicator": {"zh": "任务“{task}”没有指标 {names}", "en": "task {task!r} has no indicator {names}"},
    "report.unknown_indicator_known": {"zh": "任务“{task}”没有指标 {names}；该任务的指标为 {known}",
                                       "en": "task {task!r} has no indicator {names}; its indicators are {known}"},
    # -- submissions, tokens, obligations (services) -------------------------------------------------------------
    "plan.no_task": {"zh": "计划“{plan}”中没有任务“{task}”", "en": "plan {plan!r} has no task {task!r}"},
    "plan.no_unit": {"zh": "计划“{plan}”中没有单位“{unit}”", "en": "plan {plan!r} has no unit {unit!r}"},
    "submit.not_lead": {"zh": "单位“{unit}”不是任务“{task}”期间“{period}”的牵头单位",
                        "en": "unit {unit!r} does not lead task {task!r} for period {period!r}"},
    "submit.not_lead_on": {"zh": "{day}，单位“{unit}”不是任务“{task}”期间“{period}”的牵头单位",
                           "en": "unit {unit!r} does not lead task {task!r} for period {period!r} on {day}"},
    "token.unit_or_coordinator": {"zh": "令牌只能发给一个单位（--unit U）或牵头协调单位（--coordinator）",
                                  "en": "a token is either for one unit (--unit U) or for the coordinator (--coordinator)"},
    "token.unknown": {"zh": "没有前缀为“{prefix}”的令牌", "en": "no token with prefix {prefix!r}"},
    "obligation.unknown": {"zh": "没有编号为 {obligation} 的事项", "en": "no obligation {obligation}"},
    "obligation.unknown_active": {"zh": "计划 {plan} 中没有进行中的事项 {task} / {unit} / {period}",
                                  "en": "no active obligation {task} / {unit} / {period} in plan {plan}"},
    "obligation.unknown_active_id": {"zh": "计划 {plan} 中没有进行中的事项 {obligation}",
                                     "en": "no active obligation {obligation} in plan {plan}"},
    "resume.not_blocked": {"zh": "该事项未报受阻（或已恢复催办）",
                           "en": "this obligation is not reported blocked (or was already resumed)"},
    "resume.reason_too_long": {"zh": "理由太长（{length} 个字，最多 {limit} 个）",
                               "en": "the reason is too long ({length} characters, at most {limit})"},
    "catch_up.too_many": {
        "zh": "计划“{plan}”：需补跑 {count} 晚（{since} 至 {target}），超过上限 {limit}；要全部补跑，请指明第一晚"
              "（--since {since}），或只用 --as-of 运行最近一天",
        "en": "plan {plan!r}: {count} nights to catch up ({since} to {target}), more than {limit}; to run them all "
              "name the first night (--since {since}), or run only the latest date with --as-of"},
    "apply.effective_too_early": {
        "zh": "生效日期 {day} 早于上一版本的生效日期（{previous}）：计划调整不能改写已有记录；请选择该日或之后的日期",
        "en": "effective date {day} is before the previous version's ({previous}): a plan change may not rewrite "
              "what the record already says; choose a date on or after it"},
    "apply.rename_onto_used": {"zh": "改名为“{task}” / “{unit}”：该编号在记录中已有事项",
                               "en": "renaming onto {task!r} / {unit!r}: that id already has obligations in the record"},
    "example.not_on_disk": {"zh": "示例“{name}”不在文件系统上（{where}）",
                            "en": "the example {name!r} is not on the file system ({where})"},
    # -- the portal's workflow (services/workflow.py, web/pages.py) --------------------------------------------------
    "what.note": {"zh": "情况说明", "en": "note"},
    "what.a_note": {"zh": "意见", "en": "a note"},
    "what.evidence": {"zh": "佐证材料链接", "en": "evidence"},
    "what.reason": {"zh": "理由", "en": "a reason"},
    "what.rejection_reason": {"zh": "不予批准的理由", "en": "a reason for the rejection"},
    "what.send_back_reason": {"zh": "退办理由", "en": "a reason for sending the report back"},
    "what.reported_on": {"zh": "填报日期", "en": "report date"},
    "what.new_due": {"zh": "申请延至的日期", "en": "new due date"},
    "workflow.required": {"zh": "请填写{what}", "en": "{what} is required"},
    "workflow.too_long": {"zh": "{what}太长（{length} 个字，最多 {limit} 个）",
                          "en": "{what} is too long ({length} characters, at most {limit})"},
    "workflow.accepted": {"zh": "该事项已审结，不再接受填报",
                          "en": "this obligation was accepted (审结) by the coordinator; it takes no further reports"},
    "workflow.extension_too_late": {"zh": "延期须在完成时限（{due}）之前申请，今天是 {today}",
                                    "en": "an extension must be requested before the due date ({due}); today is {today}"},
    "workflow.already_done": {"zh": "该事项已报完成，无需延期",
                              "en": "this obligation is already reported done; no extension is needed"},
    "workflow.extension_waiting": {"zh": "该事项已有待审批的延期申请",
                                   "en": "an extension request for this obligation is already waiting for a decision"},
    "workflow.new_due_not_later": {"zh": "申请延至的日期 {new_due} 须晚于当前时限 {due}（非工作日顺延至下一工作日）",
                                   "en": "the new due date {new_due} must be later than the current due date {due}"},
    "workflow.due_changed": {"zh": "申请提出后该事项的完成时限已改变（计划已重新导入）；请单位重新申请",
                             "en": "the obligation's due date changed since the request (the plan was re-applied); "
                                   "the unit should ask again"},
    "workflow.unknown_extension": {"zh": "没有编号为 {extension} 的延期申请", "en": "no extension request {extension}"},
    "workflow.extension_decided": {"zh": "延期申请 {extension} 已经{state}", "en": "extension request {extension} was already {state}"},
    "workflow.extension_decided_meanwhile": {"zh": "延期申请 {extension} 已在此期间被审批",
                                             "en": "extension request {extension} was decided meanwhile"},
    "workflow.reviewed_meanwhile": {"zh": "报送 {report} 已在此期间被审核", "en": "report {report} was reviewed meanwhile"},
    "workflow.unknown_report": {"zh": "没有编号为 {report} 的报送", "en": "no report {report}"},
    "workflow.not_done_report": {"zh": "报送 {report} 不是已完成的报送（{status}）；只审核已完成的报送",
                                 "en": "report {report} is not a done report ({status}); only done reports are reviewed"},
    "workflow.already_reviewed": {"zh": "报送 {report} 已经审核过", "en": "report {report} was already reviewed"},
    "workflow.not_latest": {"zh": "报送 {report} 已不是该事项最新的报送",
                            "en": "report {report} is no longer the obligation's latest report"},
    "form.not_whole": {"zh": "“{value}”不是整数", "en": "{value!r} is not a whole number"},
    "form.not_a_date": {"zh": "{what}“{value}”不是日期（YYYY-MM-DD）", "en": "{what} {value!r} is not a date (YYYY-MM-DD)"},
    "form.not_a_number": {"zh": "指标值“{value}”不是数字", "en": "indicator value {value!r} is not a number"},
    "form.new_due_required": {"zh": "请填写申请延至的日期", "en": "a new due date is required"},
    "form.approve_or_reject": {"zh": "审批结果应为 approve 或 reject", "en": "decision must be approve or reject"},
    "form.accept_or_send_back": {"zh": "审核结果应为 accept 或 send_back", "en": "decision must be accept or send_back"},
    # -- plan files (planfile.py) -------------------------------------------------------------------------------------
    # the operating system's reason, in the plan's words (its own sentence is English)
    "os.not_found": {"zh": "文件或文件夹不存在", "en": "no such file or folder"},
    "os.denied": {"zh": "没有访问权限", "en": "permission denied"},
    "os.is_folder": {"zh": "这是一个文件夹，不是文件", "en": "it is a folder, not a file"},
    "os.not_folder": {"zh": "路径中有一段不是文件夹", "en": "a part of the path is not a folder"},
    "os.disk_full": {"zh": "磁盘空间不足", "en": "no space left on the disk"},
    "os.read_only": {"zh": "文件系统为只读", "en": "the file system is read-only"},
    "file.cannot_read": {"zh": "无法读取文件：{reason}", "en": "cannot read the file: {reason}"},
    "file.too_big": {"zh": "文件有 {size} 字节；计划文件最大 {limit} 字节", "en": "file is {size} bytes; plans are limited to {limit}"},
    "file.not_utf8": {"zh": "文件不是 UTF-8 文本（请另存为 UTF-8）", "en": "the file is not UTF-8 text (save it as UTF-8)"},
    "file.control_character": {"zh": "文件含有控制字符 {character}，YAML 不允许，请删除",
                               "en": "the file contains the control character {character}, which YAML does not allow; "
                                     "remove it"},
    "file.yaml_syntax": {"zh": "YAML 语法错误：{reason}", "en": "YAML syntax error: {reason}"},
    "file.yaml_error": {"zh": "YAML 错误：{reason}", "en": "YAML error: {reason}"},
    "file.empty": {"zh": "文件是空的；应为一份{what}文档", "en": "the file is empty; a {what} document is expected"},
    "file.too_large": {"zh": "文档过大或嵌套过深（上限：{nodes} 个值，深度 {depth}，经别名重复的值 {aliased} 个）",
                       "en": "document too large or too deeply nested (limits: {nodes} values, depth {depth}, "
                             "{aliased} values repeated through aliases)"},
    "file.not_mapping": {"zh": "文档应为描述{what}的映射（键: 值）",
                         "en": "the document must be a mapping (key: value) describing a {what}"},
    "what.plan": {"zh": "计划", "en": "plan"},
    # -- plan documents (domain/plan.py, domain/obligations.py, pydantic's common errors) ------------------------------
    "what.unit": {"zh": "单位", "en": "unit"},
    "what.task": {"zh": "任务", "en": "task"},
    "what.group": {"zh": "分组", "en": "group"},
    "what.section": {"zh": "板块", "en": "section"},
    "every.year": {"zh": "年度", "en": "year"},
    "every.half_year": {"zh": "半年", "en": "half_year"},
    "every.quarter": {"zh": "季度", "en": "quarter"},
    "every.month": {"zh": "月度", "en": "month"},
    "every.week": {"zh": "周", "en": "week"},
    "plan.rename_still_there": {"zh": "{what}“{id}”仍在计划中；改名即取代原编号",
                                "en": "{what} {id!r} is still in the plan; a rename replaces it"},
    "plan.renamed_twice": {"zh": "{what}“{id}”被改名了两次", "en": "{what} {id!r} is renamed twice"},
    "plan.duplicate_id": {"zh": "{what}编号“{id}”重复", "en": "duplicate {what} id {id!r}"},
    "plan.duplicate_level": {"zh": "催办层级“{level}”重复", "en": "duplicate escalation level {level!r}"},
    "plan.duplicate_indicator": {"zh": "任务“{task}”中的指标编号“{id}”重复",
                                 "en": "duplicate indicator id {id!r} in task {task!r}"},
    "plan.unknown_ref": {"zh": "未知{what}“{id}”{did_you_mean}", "en": "unknown {what} {id!r}{did_you_mean}"},
    "plan.empty_group": {"zh": "分组“{id}”中没有单位", "en": "group {id!r} has no units"},
    "plan.depends_on_itself": {"zh": "任务不能依赖自身", "en": "a task cannot depend on itself"},
    "plan.due_outside": {"zh": "完成时限 {due} 不在计划起止日期（{start} 至 {end}）内",
                         "en": "due date {due} is outside the plan ({start} to {end})"},
    "plan.same_offset": {"zh": "两个催办层级在同一时点（{after}）触发", "en": "two steps fire at the same offset {after}"},
    "plan.no_leading_group": {"zh": "通知对象含 leading_group，但计划没有设置 leading_group",
                              "en": "notifies leading_group but the plan has no leading_group"},
    "plan.unknown_level": {"zh": "未知催办层级“{level}”", "en": "unknown escalation level {level!r}"},
    "plan.dependency_cycle": {"zh": "任务循环依赖：{cycle}", "en": "dependency cycle: {cycle}"},
    "plan.no_whole_period": {"zh": "计划起止日期内没有一个完整的{every}", "en": "no whole {every} lies inside the plan's dates"},
    "plan.bad_email": {"zh": "“{value}”不是有效的电子邮件地址：{reason}", "en": "{value!r} is not a valid e-mail address: {reason}"},
    "plan.unknown_zone": {"zh": "未知时区“{value}”（例如 Asia/Shanghai）", "en": "unknown time zone {value!r} (e.g. Asia/Shanghai)"},
    "plan.follow_up_too_early": {"zh": "follow_up_until {value} 早于计划结束日（{end}）",
                                 "en": "follow_up_until {value} is before the plan ends ({end})"},
    "plan.end_before_start": {"zh": "计划结束日 {end} 早于开始日 {start}", "en": "plan end {end} is before its start {start}"},
    "plan.too_long": {"zh": "一个计划最长跨五年", "en": "a plan may span at most five years"},
    "plan.lead_empty": {"zh": "lead 至少需要一个单位编号或 group:分组名", "en": "lead needs at least one unit id or group:NAME"},
    "plan.bad_lead": {"zh": "lead“{item}”既不是单位编号也不是 group:分组名（只能用小写字母、数字和“-”）",
                      "en": "lead {item!r} is neither a unit id nor group:NAME (lowercase letters, digits and '-')"},
    "plan.due_or_every": {"zh": "任务须有 `due`（一次性）或 `every`（周期性）之一",
                          "en": "a task needs either `due` (one-off) or `every` (recurring)"},
    "plan.due_and_every": {"zh": "任务只能有 `due`（一次性）或 `every` 之一，不能两者都有",
                           "en": "a task has either `due` (one-off) or `every`, not both"},
    "plan.due_after_once": {"zh": "`due_after` 只适用于周期性任务（`every`）",
                            "en": "`due_after` applies only to recurring tasks (`every`)"},
    "plan.unknown_key": {"zh": "未知的键（请检查拼写；见 `plan-tracker plan schema`）",
                         "en": "unknown key (check the spelling; see `plan-tracker plan schema`)"},
    "plan.missing_key": {"zh": "缺少必填的键", "en": "required key is missing"},
    "plan.expected_date": {"zh": "应为日期 YYYY-MM-DD，填写的是“{value}”", "en": "expected a date YYYY-MM-DD, got {value!r}"},
    "plan.not_one_of": {"zh": "“{value}”不是 {expected} 之一", "en": "{value!r} is not one of {expected}"},
    "plan.bad_id": {"zh": "“{value}”不是有效的编号（只能用小写字母、数字和“-”）",
                    "en": "{value!r} is not a valid id (lowercase letters, digits and '-')"},
    # pydantic's common sentences, the English as pydantic words them
    "plan.less_than_equal": {"zh": "应小于或等于 {limit}", "en": "Input should be less than or equal to {limit}"},
    "plan.greater_than_equal": {"zh": "应大于或等于 {limit}", "en": "Input should be greater than or equal to {limit}"},
    "plan.int_parsing": {"zh": "应为整数", "en": "Input should be a valid integer, unable to parse string as an integer"},
    "plan.literal_error": {"zh": "应为 {expected}", "en": "Input should be {expected}"},
    "plan.library_says": {"zh": "不符合要求：{detail}", "en": "{detail}"},
    "plan.yaml_tag": {"zh": "计划中不允许使用 YAML 标签“{tag}”", "en": "YAML tag {tag!r} is not allowed in a plan"},
    "plan.key_not_name": {"zh": "映射的键须为普通名称", "en": "mapping keys must be plain names"},
    "plan.key_twice": {"zh": "键“{key}”在此映射中出现了两次", "en": "key {key!r} appears twice in this mapping"},
    "plan.bad_date": {"zh": "“{value}”不是有效日期：{reason}", "en": "{value!r} is not a valid date: {reason}"},
    "plan.date_not_datetime": {"zh": "此处应为日期（YYYY-MM-DD），不是日期加时间",
                               "en": "a date is expected here (YYYY-MM-DD), not a date and time"},
    "plan.blank": {"zh": "待填写的空白：{value}", "en": "a blank left to fill in: {value}"},
    "plan.units_and_units_file": {"zh": "`units` 与 `units_file` 只能用其一", "en": "use either `units` or `units_file`, not both"},
    "plan.units_file_missing": {"zh": "找不到 units_file“{ref}”", "en": "units_file {ref!r} not found"},
    "plan.units_file_key": {"zh": "单位清单文件中的未知键（应为 units、groups）",
                            "en": "unknown key in a units file (expected units, groups)"},
    "plan.units_file_path": {"zh": "units_file 应为相对路径", "en": "units_file must be a relative path"},
    "what.units_file": {"zh": "单位清单文件", "en": "units file"},
    "what.report_file": {"zh": "报送文件", "en": "report file"},
    # -- the units' replies by mail (channels/mailbox.py, inbox/mail.py, commands/mail.py) ---------
    "mailbox.unknown_scheme": {"zh": "PLAN_TRACKER_IMAP_URL：未知的协议“{scheme}”（请用 imaps://、imap://…?starttls 或 maildir:）",
                            "en": "PLAN_TRACKER_IMAP_URL: unknown scheme {scheme!r} (use imaps://, imap://…?starttls or maildir:)"},
    "mailbox.cleartext": {"zh": "PLAN_TRACKER_IMAP_URL：不加密的 imap:// 会以明文发送密码；请用 imaps:// 或加上 ?starttls（?plain 仅限本机地址）",
                       "en": "PLAN_TRACKER_IMAP_URL: imap:// without TLS would send the password in the clear; "
                             "use imaps:// or add ?starttls (?plain is for a loopback host only)"},
    "mailbox.no_host_or_user": {"zh": "PLAN_TRACKER_IMAP_URL 缺少主机或用户名（例如 imaps://user:password@host/INBOX）",
                             "en": "PLAN_TRACKER_IMAP_URL names no host or user (imaps://user:password@host/INBOX)"},
    "mailbox.cannot_open": {"zh": "无法打开邮箱 {where}（{reason}）", "en": "cannot open the mailbox at {where} ({reason})"},
    "mailbox.not_maildir": {"zh": "PLAN_TRACKER_IMAP_URL：{path} 不是 Maildir 文件夹",
                         "en": "PLAN_TRACKER_IMAP_URL: {path} is not a Maildir folder"},
    "mailbox.not_configured": {"zh": "未配置邮箱：请设置 PLAN_TRACKER_IMAP_URL（见 docs/INBOX.md“Answer by reply”）",
                            "en": "no mailbox configured: set PLAN_TRACKER_IMAP_URL (docs/INBOX.md, \"Answer by reply\")"},
    "mailbox.stopped_answering": {"zh": "邮箱中途停止响应（{reason}）；未处理的邮件留在邮箱中，下次收取时再处理",
                               "en": "the mailbox stopped answering ({reason}); unhandled messages stay in it for the next fetch"},
    "cli.retry_dead_options": {"zh": "--since 和 --channel 须与 --retry-dead 一起使用",
                               "en": "--since and --channel go with --retry-dead"},
    # -- what the commands print (tables and summaries; JSON keeps codes and English keys) ----------
    # plan apply's diff (commands/core.py)
    "out.apply_unchanged": {"zh": "计划 {plan}：无变化（第 {version} 版）", "en": "plan {plan}: no changes (version {version})"},
    "out.apply_done": {"zh": "计划 {plan}：{verb}第 {version} 版{new}，自 {effective} 起施行",
                       "en": "plan {plan}: {verb} version {version}{new}, in force from {effective}"},
    "out.apply_verb_applied": {"zh": "已导入", "en": "applied"},
    "out.apply_verb_would": {"zh": "将导入", "en": "would apply"},
    "out.apply_new_plan": {"zh": "（新计划）", "en": " (new plan)"},
    "out.apply_renamed": {"zh": "  {kind} {old} → {new}（保留历史：报送 {reports} 条，催办 {reminders} 条）",
                          "en": "  {kind} {old} → {new} (history kept: {reports} reports, {reminders} reminders)"},
    "out.apply_item": {"zh": "  {sign} {kind} {item}", "en": "  {sign} {kind} {item}"},
    "out.kind_task": {"zh": "任务", "en": "task"},
    "out.kind_unit": {"zh": "单位", "en": "unit"},
    "out.apply_dates_moved": {"zh": "  任务 {task}：{count} 项督办事项的完成时限自 {effective} 起调整（计划调整）；此前的时限不变",
                              "en": "  task {task}: due dates of {count} obligations move (plan adjustment) from "
                                    "{effective}; earlier dates keep the old ones"},
    "out.apply_cancelled": {"zh": "  {what} 自 {on} 起撤销：{count} 项督办事项不再跟踪（{reason}）",
                            "en": "  {what} cancelled from {on}: {count} obligations no longer tracked ({reason})"},
    "out.apply_stop_warning": {"zh": "  ! 任务 {task}：{count} 项督办事项自 {effective} 起不再跟踪（已到期 {due} 项，"
                                     "已有报送 {reported} 项）；{effective} 之前的记录保留",
                               "en": "  ! task {task}: {count} obligations stop being tracked from {effective} "
                                     "({due} already due, {reported} with reports); the record before {effective} is kept"},
    "out.apply_totals": {"zh": "  督办事项：+{added} ~{changed} -{removed}（共 {total} 项）",
                         "en": "  obligations: +{added} ~{changed} -{removed} (total {total})"},
    # plan validate's warnings (services/recipients.py: Unreachable)
    "out.warning": {"zh": "{file}：警告：{message}", "en": "{file}: warning: {message}"},
    "out.unreachable_plan_wide": {"zh": "催办级别“{level}”通知 {role}，但{who}：这些催办将记为无法送达",
                                  "en": "step {level!r} notifies {role}, but {who} with an address: its reminders will "
                                        "be recorded dead"},
    "out.who_coordinator": {"zh": "牵头协调单位没有联系人或负责人", "en": "the coordinating unit has no contact or head"},
    "out.who_leading_group": {"zh": "领导小组没有邮箱或收件人", "en": "the leading group has no e-mail or recipients"},
    "out.who_role": {"zh": "{role} 没有可用地址", "en": "{role}"},
    "out.unreachable_unit": {"zh": "催办级别“{level}”通知 {role}，但单位 {name}（{unit}）没有可用邮箱或机器人的 {role}："
                                   "发给 {role} 的催办将记为无法送达",
                             "en": "step {level!r} notifies {role}, but unit {name} ({unit}) has no {role} with an "
                                   "e-mail or robot: those reminders will be recorded dead for {role}"},
    # nightly and catch-up (commands/core.py)
    "out.night_head": {"zh": "每晚跟进 {plan}，截至 {day}：{lights}", "en": "nightly {plan} as of {day}: {lights}"},
    "out.night_light": {"zh": "{word} {count}", "en": "{word} {count}"},
    "out.night_reminders": {
        "zh": "  新增催办 {raised} 条（跳过 {skipped}，无人可收 {undeliverable}{already}）；已送达 {delivered} 条，"
              "共 {messages} 封消息，失败 {failed}，无法送达 {dead}，等待发送时段 {waiting}{held}",
        "en": "  reminders raised {raised} (skipped {skipped}, undeliverable {undeliverable}{already}); delivered "
              "{delivered} in {messages} message(s), failed {failed}, dead {dead}, waiting for the delivery window "
              "{waiting}{held}"},
    "out.night_already": {"zh": "，此前运行已产生 {count}", "en": ", already raised by an earlier run {count}"},
    "out.held": {"zh": "，因渠道停用而暂存 {count} 条（修复后运行 `plan-tracker channels enable NAME`）",
                 "en": ", held for a disabled channel {count} (fix it, then `plan-tracker channels enable NAME`)"},
    "out.follow_up_over": {"zh": "每晚跟进 {plan}，截至 {day}：跟进已于 {last} 结束（plan.follow_up_until；默认为最后完成时限后 "
                                 "60 天）；无需处理",
                           "en": "nightly {plan} as of {day}: follow-up ended on {last} (plan.follow_up_until; default "
                                 "60 days after the last due date); nothing to do"},
    "out.catch_up_ended": {"zh": "每晚跟进 {plan}：跟进已于 {last} 结束；只补跑到该晚",
                           "en": "nightly {plan}: follow-up ended on {last}; catching up through that night only"},
    "out.catch_up_nothing": {"zh": "每晚跟进 {plan}：无需补跑（{day} 当晚已运行）",
                             "en": "nightly {plan}: nothing to catch up (the night of {day} already ran)"},
    "out.catch_up_bar": {"zh": "补跑 {plan}", "en": "catching up {plan}"},
    "out.catch_up_done": {"zh": "已补跑 {plan} 的 {count} 晚（{first} 至 {last}）：本次新增催办 {raised} 条，此前运行已产生 {already} 条",
                          "en": "caught up {count} night(s) of {plan} ({first} to {last}): reminders raised now {raised}, "
                                "already raised by earlier runs {already}"},
    "out.resumed": {"zh": "已恢复催办：{task} / {unit} / {period}，自 {day} 起", "en": "escalation resumed: {task} / {unit} / {period} from {day}"},
    # reminders table
    "out.reminders_title": {"zh": "{plan} 催办记录", "en": "{plan} reminders"},
    "out.col_fired_on": {"zh": "产生日期", "en": "fired on"},
    "out.col_level": {"zh": "级别", "en": "level"},
    "out.col_task": {"zh": "任务", "en": "task"},
    "out.col_unit": {"zh": "单位", "en": "unit"},
    "out.col_period": {"zh": "期间", "en": "period"},
    "out.col_state": {"zh": "状态", "en": "state"},
    "out.col_recipients": {"zh": "收件人", "en": "recipients"},
    # plans list
    "out.plans_title": {"zh": "计划", "en": "plans"},
    "out.col_plan": {"zh": "计划", "en": "plan"},
    "out.col_title": {"zh": "名称", "en": "title"},
    "out.col_version": {"zh": "版本", "en": "version"},
    "out.col_start": {"zh": "开始", "en": "start"},
    "out.col_end": {"zh": "结束", "en": "end"},
    "out.col_obligations": {"zh": "督办事项", "en": "obligations"},
    "out.col_last_night": {"zh": "最近成功运行", "en": "last night"},
    "out.col_follow_up_until": {"zh": "跟进截止", "en": "follow-up until"},
    "out.never": {"zh": "从未", "en": "never"},
    # channels
    "out.channels_title": {"zh": "通知渠道", "en": "channels"},
    "out.col_name": {"zh": "名称", "en": "name"},
    "out.col_disabled": {"zh": "已停用", "en": "disabled"},
    "out.col_since": {"zh": "自", "en": "since"},
    "out.col_reason": {"zh": "原因", "en": "reason"},
    "out.yes": {"zh": "是", "en": "yes"},
    "out.no": {"zh": "否", "en": "no"},
    "out.channel_enabled": {"zh": "渠道 {name} 已重新启用；等待中的催办将在下次发送时发出",
                            "en": "channel {name} enabled; its waiting reminders go out on the next delivery run"},
    # doctor's table (its checks' messages and fixes: `doctor.*` below)
    "out.doctor_title": {"zh": "plan-tracker 体检", "en": "plan-tracker doctor"},
    "out.col_check": {"zh": "检查项", "en": "check"},
    "out.col_result": {"zh": "结果", "en": "result"},
    "out.col_message": {"zh": "说明", "en": "message"},
    "out.col_fix": {"zh": "处理办法", "en": "fix"},
    "out.level_ok": {"zh": "正常", "en": "ok"},
    "out.level_warn": {"zh": "警告", "en": "warn"},
    "out.level_fail": {"zh": "失败", "en": "fail"},
    # templates (commands/inbox.py)
    "out.template_written": {"zh": "已写入 {path}（{unit} 的 {rows} 项督办事项）",
                             "en": "wrote {path} ({rows} obligation(s) of {unit})"},
    "out.no_templates": {"zh": "{day}{scope}没有进行中的督办事项：未写入模板",
                         "en": "no open obligations{scope} on {day}: no template written"},
    "out.template_scope": {"zh": "（{what}）", "en": " for {what}"},
    "out.scope_unit": {"zh": "单位 {unit}", "en": "unit {unit}"},
    "out.scope_period": {"zh": "期间 {period}", "en": "period {period}"},
    "out.file_written": {"zh": "已写入 {path}（{size} 字节）", "en": "wrote {path} ({size} bytes)"},
    # plan draft, example, schema (commands/authoring.py)
    "out.drafted": {"zh": "已写入 {path}：请填写 {blanks} 处 TODO 空白，然后运行 `plan-tracker plan validate {path}`",
                    "en": "wrote {path}: fill the {blanks} TODO blank(s), then run `plan-tracker plan validate {path}`"},
    "out.wrote": {"zh": "已写入 {path}", "en": "wrote {path}"},
    "out.next_apply": {"zh": "下一步：plan-tracker plan apply {path}", "en": "next: plan-tracker plan apply {path}"},
    # deliver, init
    "out.requeued": {"zh": "发送 {plan}：已重新排队 {count} 条无法送达的催办", "en": "deliver {plan}: requeued {count} dead deliveries"},
    "out.delivered": {"zh": "发送 {plan}：已送达 {delivered} 条，共 {messages} 封消息，失败 {failed}，无法送达 {dead}，"
                            "等待发送时段 {waiting}{held}{deferred}",
                      "en": "deliver {plan}: delivered {delivered} in {messages} message(s), failed {failed}, dead {dead}, "
                            "waiting for the delivery window {waiting}{held}{deferred}"},
    "out.deferred": {"zh": "，推迟 {count} 条（渠道暂不可达）", "en": ", deferred {count} (channel unreachable)"},
    "out.store_ready": {"zh": "存储已就绪：{url}", "en": "store ready: {url}"},
    # tokens
    "out.token_created": {"zh": "已为计划 {plan} 的 {holder} 创建令牌（前缀 {prefix}）；令牌只显示这一次，请妥善保管",
                          "en": "token for {holder} of plan {plan} (prefix {prefix}); it is shown only now — keep it safe"},
    "out.token_revoked": {"zh": "已吊销令牌 {prefix}（计划 {plan} 的 {holder}）", "en": "revoked token {prefix} ({holder} of plan {plan})"},
    "out.holder_coordinator": {"zh": "牵头协调人", "en": "coordinator"},
    "out.holder_unit": {"zh": "单位 {unit}", "en": "unit {unit}"},
    "out.tokens_title": {"zh": "令牌", "en": "tokens"},
    "out.col_prefix": {"zh": "前缀", "en": "prefix"},
    "out.col_holder": {"zh": "持有人", "en": "holder"},
    "out.col_label": {"zh": "备注", "en": "label"},
    "out.col_created": {"zh": "创建时间", "en": "created"},
    "out.col_last_used": {"zh": "最近使用", "en": "last used"},
    "out.col_revoked": {"zh": "吊销时间", "en": "revoked"},
    # mail fetch (commands/mail.py)
    "out.mail_fetched": {
        "zh": "收取邮件：共 {messages} 封，已接收 {accepted}，拒收 {refused}，忽略 {ignored}，此前已处理 {seen_before}，"
              "属于其他计划 {other_plan}，失败 {failed}；回执已发 {receipts_sent}，回执失败 {receipts_failed}",
        "en": "mail fetch: messages {messages}, accepted {accepted}, refused {refused}, ignored {ignored}, seen before "
              "{seen_before}, other plan {other_plan}, failed {failed}, receipts sent {receipts_sent}, receipts failed "
              "{receipts_failed}"},
    # serve (commands/web.py)
    "out.insecure_http": {"zh": "警告：PLAN_TRACKER_INSECURE_HTTP 已开启：Cookie 不带 Secure 标记（仅限开发使用）",
                          "en": "warning: PLAN_TRACKER_INSECURE_HTTP is on: cookies are not Secure (development only)"},
    # the CLI's edge (commands/common.py): a bug or the environment, exit 1
    "cli.internal_error": {"zh": "内部错误：{error}{log}", "en": "internal error: {error}{log}"},
    "cli.traceback_in": {"zh": "（详细记录见 {path}）", "en": " (traceback in {path})"},
    # deliver (commands/ops.py): a channel whose circuit breaker opened
    "out.stopped_trying": {"zh": "{channel}：连续 {failures} 次连接失败后停止尝试（最后一次：{error}）；{waiting} 位收件人等待下次发送",
                           "en": "{channel}: stopped trying after {failures} connection failures in a row (the last: "
                                 "{error}); {waiting} recipient(s) wait for the next delivery run"},
    # nightly through Prefect (commands/core.py, flows/outcome.py)
    "out.night_undelivered": {"zh": "{plan}：有 {count} 条未能发出（失败 {failed}，无法送达 {dead}；已送达 {delivered}，"
                                    "等待发送时段 {waiting}）；处理办法见 `plan-tracker doctor`",
                              "en": "{plan}: {count} deliveries did not go out (failed {failed}, dead {dead}; delivered "
                                    "{delivered}, waiting for the delivery window {waiting}); `plan-tracker doctor` "
                                    "names the fix"},
    # -- what Prefect shows of a night (flows/outcome.py): artifacts and the final state's message
    "prefect.night_title": {"zh": "# {day} 晚间跟进 — 计划 `{plan}`", "en": "# Night of {day} — plan `{plan}`"},
    "prefect.table_head": {"zh": "| 项目 | 数值 |", "en": "| figure | value |"},
    "prefect.row_lights": {"zh": "| 灯色 | {lights} |", "en": "| lights | {lights} |"},
    "prefect.no_lights": {"zh": "无", "en": "none"},
    "prefect.row_reminders": {"zh": "| 新增催办 | {raised}（跳过 {skipped}，无人可收 {undeliverable}，此前已产生 {already}） |",
                              "en": "| reminders raised | {raised} (skipped {skipped}, undeliverable {undeliverable}, "
                                    "already raised {already}) |"},
    "prefect.row_delivered": {"zh": "| 已送达 | {count} |", "en": "| delivered | {count} |"},
    "prefect.row_failed": {"zh": "| 失败（将重试） | {count} |", "en": "| failed (retried) | {count} |"},
    "prefect.row_dead": {"zh": "| 无法送达 | {count} |", "en": "| dead | {count} |"},
    "prefect.row_waiting": {"zh": "| 等待发送时段 | {count} |", "en": "| waiting for the delivery window | {count} |"},
    "prefect.row_reports": {"zh": "| 已知进展报告 | {count} |", "en": "| status reports known | {count} |"},
    "prefect.verdict_bad": {"zh": "**有 {count} 条发送未能发出**（失败的会重试；无法送达的处理办法见 `plan-tracker doctor`）",
                            "en": "**{count} deliveries did not go out** (failed ones are retried; dead ones need "
                                  "`plan-tracker doctor` for the fix)"},
    "prefect.verdict_good": {"zh": "应发的消息均已发出或在等待发送时段",
                             "en": "every due delivery went out or waits for the delivery window"},
    "prefect.night_about": {"zh": "计划 {plan}，{day} 晚间", "en": "plan {plan}, night of {day}"},
    "prefect.overdue_about": {"zh": "计划 {plan}，截至 {day} 的逾期事项：列出 {count} 项（逾期最久的在前，最多 {limit} 项）",
                              "en": "plan {plan}, overdue as of {day}: {count} listed (longest first, at most {limit})"},
    "prefect.undelivered": {"zh": "{what}：有发送未能发出 — {parts}", "en": "{what}: deliveries did not go out — {parts}"},
    "prefect.undelivered_plan": {"zh": "计划 {plan}：失败 {failed}，无法送达 {dead}，已送达 {delivered}，等待发送时段 {waiting}",
                                 "en": "plan {plan}: failed {failed}, dead {dead}, delivered {delivered}, waiting {waiting}"},
    # -- doctor's checks (services/doctor.py): what it found, and the fix -------------------------
    "doctor.database_down": {"zh": "数据库无响应：{reason}", "en": "the database does not answer: {reason}"},
    "doctor.fix_database": {"zh": "请启动数据库，或更正 PLAN_TRACKER_DATABASE_URL",
                            "en": "start the database or correct PLAN_TRACKER_DATABASE_URL"},
    "doctor.database_ok": {"zh": "{dialect} 响应正常", "en": "{dialect} answers"},
    "doctor.schema_at_head": {"zh": "数据库结构已是最新版本 {heads}", "en": "schema at head {heads}"},
    "doctor.schema_behind": {"zh": "数据库结构为 {have}，程序需要 {heads}", "en": "schema at {have}, the code expects {heads}"},
    "doctor.no_schema": {"zh": "（尚无结构）", "en": "no schema"},
    "doctor.fix_migrate": {"zh": "先备份，再对该存储运行任一 plan-tracker 命令（首次使用时会自动迁移）",
                           "en": "run any plan-tracker command once against this store (it migrates on first use) "
                                 "after a backup"},
    "doctor.no_plan": {"zh": "存储中没有计划“{plan}”", "en": "there is no plan {plan!r} in the store"},
    "doctor.fix_plans_list": {"zh": "`plan-tracker plans list` 列出存储中的计划",
                              "en": "`plan-tracker plans list` shows the plans in the store"},
    "doctor.no_plans": {"zh": "存储中还没有计划", "en": "the store holds no plan yet"},
    "doctor.fix_apply": {"zh": "请用 `plan-tracker plan apply FILE` 导入计划", "en": "apply one with `plan-tracker plan apply FILE`"},
    "doctor.follow_up_ended": {"zh": "跟进已于 {ended} 结束（plan.follow_up_until；默认为最后完成时限后 60 天）：不再需要每晚运行",
                               "en": "follow-up ended on {ended} (plan.follow_up_until; default 60 days after the last "
                                     "due date): no nightly run is expected"},
    "doctor.never_ran": {"zh": "本计划从未成功完成过每晚跟进", "en": "no nightly run has ever completed for this plan"},
    "doctor.fix_never_ran": {"zh": "调度程序（Prefect 工作节点或 cron）是否在运行 `plan-tracker nightly`？请启动它，"
                                   "或运行 `plan-tracker nightly --plan {plan} --catch-up`",
                             "en": "is the scheduler (Prefect worker or cron) running `plan-tracker nightly`? Start it, "
                                   "or run `plan-tracker nightly --plan {plan} --catch-up`"},
    "doctor.nightly_stale": {"zh": "最近一次成功的每晚跟进截至 {last_ok}，比今天（{today}，计划时区）早 {age} 天：调度程序已停止",
                             "en": "the last successful nightly run is as of {last_ok}, {age} days before today "
                                   "({today}, plan time zone): the scheduler has stopped"},
    "doctor.fix_stale": {"zh": "请重启调度程序并运行 `plan-tracker nightly --plan {plan} --catch-up`",
                         "en": "restart the scheduler and run `plan-tracker nightly --plan {plan} --catch-up`"},
    "doctor.nightly_ok": {"zh": "最近一次成功运行截至 {last_ok}（今天是 {today}）",
                          "en": "last successful run as of {last_ok} (today is {today})"},
    "doctor.nightly_ok_timed": {"zh": "最近一次成功运行截至 {last_ok}（今天是 {today}），用时 {seconds} 秒，"
                                      "最长的阶段是{stage}（{stage_seconds} 秒）",
                                "en": "last successful run as of {last_ok} (today is {today}) took {seconds} s, "
                                      "the longest stage {stage} ({stage_seconds} s)"},
    # the night's stages (`plan_tracker.night.STAGES`), as `doctor` names the longest
    "stage.mail": {"zh": "收取回复邮件", "en": "fetching replies"},
    "stage.collect": {"zh": "收集报送", "en": "collecting reports"},
    "stage.evaluate": {"zh": "评估与催办", "en": "evaluation and reminders"},
    "stage.deliver": {"zh": "发送提醒", "en": "delivery"},
    "stage.snapshot": {"zh": "当日统计", "en": "the day's figures"},
    "stage.report": {"zh": "生成报表", "en": "the day's report files"},
    "doctor.runs_unfinished": {"zh": "有 {count} 次每晚跟进未完成（被终止或卡住），涉及 {nights}；第一次开始于 {started} UTC",
                               "en": "{count} nightly run(s) never finished (killed or stuck), for {nights}; the first "
                                     "started {started} UTC"},
    "doctor.fix_unfinished": {"zh": "请运行 `plan-tracker nightly --plan {plan} --as-of {night}`（重跑会补完该晚，不会重复处理）；"
                                    "使用 Prefect 时，请确认该运行已标为 Crashed（README“Scheduling”：zombie-run 自动化），"
                                    "以免它继续占用部署的槽位",
                              "en": "run `plan-tracker nightly --plan {plan} --as-of {night}` (a rerun finishes the night "
                                    "and changes nothing twice); under Prefect, check that the run is marked Crashed "
                                    "(README \"Scheduling\": the zombie-run automation) so it no longer holds the "
                                    "deployment's slot"},
    "doctor.calendar_not_today": {"zh": "工作日历（{key}）不含今天（{today}）：每晚跟进无法计算",
                                  "en": "the working-day calendar ({key}) does not cover today ({today}): the nightly "
                                        "run cannot evaluate"},
    "doctor.fix_calendar_year": {"zh": "请在计划中补充该年的官方安排（calendar.years、holidays、workdays）并重新导入",
                                 "en": "add the year's official schedule to the plan (calendar.years, holidays, "
                                       "workdays) and re-apply it"},
    "doctor.calendar_ends": {"zh": "工作日历（{key}）在 {days} 天内结束，{first_missing} 起不再覆盖",
                             "en": "the calendar ({key}) ends before {first_missing}, within {days} days"},
    "doctor.fix_calendar_next": {"zh": "请补充下一年的官方安排（每年十一月公布）",
                                 "en": "add next year's official schedule (published each November)"},
    "doctor.calendar_ok": {"zh": "工作日历 {key} 覆盖 {today} 至 {ahead}", "en": "calendar {key} covers {today} to {ahead}"},
    "doctor.outbox_ok": {"zh": "等待发送 {pending} 条，均未超过一天", "en": "{pending} deliveries waiting, none for more than a day"},
    "doctor.backlog": {"zh": "有 {count} 条发送已等待超过一天（最早的产生于 {oldest} UTC）",
                       "en": "{count} deliveries have waited more than a day (oldest raised {oldest} UTC)"},
    "doctor.fix_backlog": {"zh": "有发送时段的渠道（SMTP、机器人）只在时段内发送，请在办公时间安排 `plan-tracker deliver`；"
                                 "失败的发送可在 `plan-tracker reminders` 中查看错误",
                           "en": "windowed channels (SMTP, robots) send only in the delivery window, so schedule "
                                 "`plan-tracker deliver` during office hours; failing ones show their error in "
                                 "`plan-tracker reminders`"},
    "doctor.topics_waiting": {"zh": "有 {count} 份周报或决策汇总已等待超过一天",
                              "en": "{count} weekly reports or decisions digests have waited more than a day"},
    "doctor.fix_topics": {"zh": "有发送时段的渠道只在时段内发送，请在办公时间安排 `plan-tracker deliver`；"
                                "失败的发送可在存储的发送表中查看错误",
                          "en": "windowed channels send only in the delivery window, so schedule `plan-tracker "
                                "deliver` during office hours; failing ones show their error in the store's delivery "
                                "table"},
    "doctor.failing": {"zh": "有 {count} 条发送失败，等待重试（例如“{example}”）",
                       "en": "{count} deliveries failed and wait for a retry (e.g. {example!r})"},
    "doctor.fix_failing": {"zh": "请修复错误所指的渠道（服务器、账号密码、机器人密钥）；下次发送时会重试",
                           "en": "fix the channel the error names (server, credentials, robot secret); the next "
                                 "delivery run retries them"},
    "doctor.held": {"zh": "有 {count} 条发送因渠道停用而暂存（例如“{example}”）；没有丢失，也未占用重试次数",
                    "en": "{count} deliveries are held for a disabled channel (e.g. {example!r}); none is lost and no "
                          "attempt is used"},
    "doctor.fix_held": {"zh": "请在设置中修正该渠道的密钥或账号密码，然后运行 `plan-tracker channels enable NAME`"
                              "（`channels list` 列出名称）；下次发送时会发出",
                        "en": "fix the channel's secret or credentials in the settings, then `plan-tracker channels "
                              "enable NAME` (`channels list` names it); the next delivery run sends them"},
    "doctor.claims": {"zh": "有 {count} 条发送已被领取但没有记录结果（领取后发送进程中断；最早领取于 {oldest} UTC）",
                      "en": "{count} deliveries were claimed and never recorded (a delivery process died after claiming "
                            "them; oldest claim {oldest} UTC)"},
    "doctor.fix_claims": {"zh": "请运行 `plan-tracker deliver --plan {plan}`（以同一消息键重发）；下一晚的运行也会处理",
                          "en": "run `plan-tracker deliver --plan {plan}` (it resends them with the same message key); "
                                "the next night does it too"},
    "doctor.dead_refused": {"zh": "有 {count} 条发送被对方拒收，已无法送达（例如“{example}”）",
                            "en": "{count} dead deliveries were refused by the peer (e.g. {example!r})"},
    "doctor.fix_dead_refused": {"zh": "请在计划的单位清单中更正地址并重新导入（`plan-tracker plan apply FILE`），然后运行 "
                                      "`plan-tracker deliver --plan {plan} --retry-dead`（可加 --since DATE 或 "
                                      "--channel NAME 缩小范围）",
                                "en": "correct the address in the plan's units file and re-apply it (`plan-tracker plan "
                                      "apply FILE`), then `plan-tracker deliver --plan {plan} --retry-dead` (add --since "
                                      "DATE or --channel NAME to narrow it)"},
    "doctor.dead_exhausted": {"zh": "有 {count} 条发送重试次数用尽，已无法送达（例如“{example}”）",
                              "en": "{count} dead deliveries were retried until their attempts ran out (e.g. {example!r})"},
    "doctor.fix_dead_exhausted": {"zh": "待对方恢复响应后，运行 `plan-tracker deliver --plan {plan} --retry-dead`"
                                        "（可加 --since DATE 或 --channel NAME 缩小范围）",
                                  "en": "once the peer answers again, `plan-tracker deliver --plan {plan} --retry-dead` "
                                        "(add --since DATE or --channel NAME to narrow it)"},
    "doctor.unreachable": {"zh": "无人可收的催办（按角色）：{listed}；另有 {nobody} 条催办没有任何收件人",
                           "en": "reminders nobody could receive, by role: {listed}; {nobody} reminders with no "
                                 "recipient at all"},
    "doctor.unreachable_role": {"zh": "{role}：{count}", "en": "{role}: {count}"},
    "doctor.unreachable_unit_role": {"zh": "{unit} 的 {role}：{count}", "en": "{role} of {unit}: {count}"},
    "doctor.none": {"zh": "无", "en": "none"},
    "doctor.fix_unreachable": {"zh": "请在计划中为其填写邮箱或机器人并重新导入（`plan validate` 会事先警告）",
                               "en": "give them an e-mail or robot in the plan and re-apply it (`plan validate` warns "
                                     "before)"},
    "doctor.prefect_down": {"zh": "Prefect API（{url}）无响应（{reason}）", "en": "the Prefect API at {url} does not answer ({reason})"},
    "doctor.fix_prefect_down": {"zh": "请启动 Prefect 服务器；不使用 Prefect 的机器上请取消设置 PREFECT_API_URL",
                                "en": "start the Prefect server, or unset PREFECT_API_URL where Prefect is not used"},
    "doctor.prefect_ok": {"zh": "本系统的流程运行没有卡在 Prefect 中", "en": "no flow run of ours is stuck in Prefect"},
    "doctor.prefect_stuck": {"zh": "有 {count} 个流程运行卡住：{listed}", "en": "{count} flow run(s) stuck: {listed}"},
    "doctor.prefect_stuck_run": {"zh": "{flow} 的运行 {name}（{id}）自 {since} UTC 起处于 {state}",
                                 "en": "{flow} run {name} ({id}) {state} since {since} UTC"},
    "doctor.fix_prefect_zombie": {
        "zh": "若其工作节点或机器已不在，请将其标为 Crashed 以释放槽位：`curl -X POST $PREFECT_API_URL/flow_runs/{id}/set_state "
              "-H 'Content-Type: application/json' -d '{{\"state\": {{\"type\": \"CRASHED\"}}, \"force\": true}}'`；"
              "如要自动处理，请运行 `prefect automation create --from-file prefect-automations.yaml`（README“Scheduling”）",
        "en": "if its worker or machine is gone, mark it Crashed to free the slot: `curl -X POST "
              "$PREFECT_API_URL/flow_runs/{id}/set_state -H 'Content-Type: application/json' -d "
              "'{{\"state\": {{\"type\": \"CRASHED\"}}, \"force\": true}}'`; to have it done automatically, "
              "`prefect automation create --from-file prefect-automations.yaml` (README \"Scheduling\")"},
    "doctor.channels_ok": {"zh": "没有停用的渠道", "en": "no channel is disabled"},
    "doctor.channel_disabled": {"zh": "渠道 {name} 自 {since} UTC 起停用（{reason}）；其发送暂存（未作废，不占用重试次数）",
                                "en": "channel {name} is disabled since {since} UTC ({reason}); its deliveries are held "
                                      "(not dead, no attempt used)"},
    "doctor.fix_channel": {"zh": "请在设置中修正其密钥或账号密码，然后运行 `plan-tracker channels enable {name}`：下次发送时会发出",
                           "en": "fix its secret or credentials in the settings, then `plan-tracker channels enable "
                                 "{name}`: the next delivery run sends them"},
}

CATALOGUE = Catalogue(MESSAGES)


def msg(key: str, /, **fields: Any) -> Msg:
    """A message of this catalogue: `key` and its named fields, worded later."""
    return CATALOGUE.msg(key, **fields)


_OS_REASONS = {errno.ENOENT: "os.not_found", errno.EACCES: "os.denied", errno.EPERM: "os.denied",
               errno.EISDIR: "os.is_folder", errno.ENOTDIR: "os.not_folder", errno.ENOSPC: "os.disk_full",
               errno.EROFS: "os.read_only"}


def os_reason(exc: OSError) -> Msg | str:
    """Why the operating system refused, worded by the catalogue for the common reasons (its
    own `strerror` is English); any other reason as the system says it."""
    key = _OS_REASONS.get(exc.errno or 0)
    return msg(key) if key else (exc.strerror or str(exc))


def word(key: str, /, locale: str = DEFAULT_LOCALE, **fields: Any) -> str:
    """The message `key` in `locale`, its fields filled in."""
    return CATALOGUE.word(key, locale, **fields)
