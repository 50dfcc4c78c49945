"""Page wording: Chinese by default, English on request (?lang=en, a `lang` cookie, or an
Accept-Language header that prefers English)."""

from __future__ import annotations

from starlette.requests import Request

from plan_tracker.domain.vocabulary import light_word, status_word

LANGS = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "app_title": {"zh": "督查督办填报平台", "en": "Follow-up portal"},
    "login": {"zh": "登录", "en": "Log in"},
    "logout": {"zh": "退出", "en": "Log out"},
    "token": {"zh": "访问令牌", "en": "Access token"},
    "token_hint": {"zh": "请输入督查办发放的访问令牌", "en": "Enter the access token issued by the coordinating office"},
    "login_failed": {"zh": "令牌无效或已撤销", "en": "The token is invalid or revoked"},
    "too_many": {"zh": "失败次数过多，请稍后再试", "en": "Too many failed attempts; try again later"},
    "my_obligations": {"zh": "本单位任务", "en": "Our obligations"},
    "supporting": {"zh": "配合事项", "en": "Tasks we support"},
    "review_queue": {"zh": "审核队列", "en": "Review queue"},
    "all_obligations": {"zh": "全部任务", "en": "All obligations"},
    "task": {"zh": "任务", "en": "Task"},
    "unit": {"zh": "单位", "en": "Unit"},
    "period": {"zh": "周期", "en": "Period"},
    "due": {"zh": "完成时限", "en": "Due"},
    "original_due": {"zh": "原定时限", "en": "Originally due"},
    "light": {"zh": "亮灯", "en": "Light"},
    "status": {"zh": "状态", "en": "Status"},
    "progress": {"zh": "进度", "en": "Progress"},
    "overdue_wd": {"zh": "逾期工作日", "en": "Working days overdue"},
    "open": {"zh": "查看/填报", "en": "Open"},
    "nothing": {"zh": "暂无", "en": "None"},
    "report_form": {"zh": "填报进展", "en": "Report progress"},
    "reported_on": {"zh": "填报日期", "en": "Report date"},
    "note": {"zh": "情况说明", "en": "Note"},
    "evidence": {"zh": "佐证材料链接", "en": "Evidence link"},
    "submit": {"zh": "提交", "en": "Submit"},
    "extension_form": {"zh": "申请延期", "en": "Ask for an extension"},
    "new_due": {"zh": "申请延至", "en": "New due date"},
    "reason": {"zh": "理由", "en": "Reason"},
    "history": {"zh": "填报记录", "en": "Reports"},
    "extensions": {"zh": "延期申请", "en": "Extension requests"},
    "support_inputs": {"zh": "配合单位意见", "en": "Supporting units' input"},
    "support_form": {"zh": "提交配合意见", "en": "Add our input"},
    "lead_unit": {"zh": "牵头单位", "en": "Lead unit"},
    "approve": {"zh": "批准", "en": "Approve"},
    "reject": {"zh": "不予批准", "en": "Reject"},
    "accept": {"zh": "审结", "en": "Accept (close)"},
    "send_back": {"zh": "退办", "en": "Send back"},
    "pending_extensions": {"zh": "待审批延期申请", "en": "Extension requests to decide"},
    "pending_reviews": {"zh": "待审核完成情况", "en": "Done reports to review"},
    "requested_by": {"zh": "申请单位", "en": "Requested by"},
    "state": {"zh": "状态", "en": "State"},
    "extended": {"zh": "已延期", "en": "extended"},
    "extension_pending": {"zh": "延期审批中", "en": "extension pending"},
    "accepted": {"zh": "已审结", "en": "accepted"},
    "sent_back": {"zh": "已退办", "en": "sent back"},
    "back": {"zh": "返回", "en": "Back"},
    "error": {"zh": "出错了", "en": "Error"},
    "not_found": {"zh": "未找到该页面或事项", "en": "Not found"},
    "forbidden": {"zh": "无权进行此操作", "en": "Not allowed"},
    "msg_report_recorded": {"zh": "进展已提交", "en": "Report recorded"},
    "msg_extension_requested": {"zh": "延期申请已提交，等待审批", "en": "Extension requested; awaiting a decision"},
    "msg_support_recorded": {"zh": "配合意见已提交", "en": "Input recorded"},
    "msg_extension_approved": {"zh": "已批准延期", "en": "Extension approved"},
    "msg_extension_rejected": {"zh": "已不予批准", "en": "Extension rejected"},
    "msg_report_accepted": {"zh": "已审结", "en": "Report accepted"},
    "msg_report_sent_back": {"zh": "已退办", "en": "Report sent back"},
    "msg_escalation_resumed": {"zh": "已恢复催办", "en": "Escalation resumed"},
    "blocked_items": {"zh": "受阻事项（催办已暂停）", "en": "Blocked items (escalation paused)"},
    "blocked_since": {"zh": "报告受阻日期", "en": "Blocked since"},
    "resume": {"zh": "恢复催办", "en": "Resume escalation"},
    "blocked_hint": {"zh": "也可批准延期申请，或通过计划调整撤销该事项。",
                     "en": "You may also grant an extension, or cancel the item with a plan change."},
    "as_of": {"zh": "统计日期", "en": "As of"},
    "coordinator": {"zh": "督查办（协调单位）", "en": "Coordinator"},
}

EXT_STATES = {
    "pending": {"zh": "待审批", "en": "pending"},
    "approved": {"zh": "已批准", "en": "approved"},
    "rejected": {"zh": "不予批准", "en": "rejected"},
}

# Rule messages (a refused report, a late extension) come with the error: catalogue keys of
# `domain/messages.py`, worded in the page's language by `pages._failure`.


def choose_lang(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    cookie = request.cookies.get("lang")
    if cookie in LANGS:
        return cookie
    return _from_accept_language(request.headers.get("accept-language", ""))


def _from_accept_language(header: str) -> str:
    """English only when the header prefers some `en` over every `zh` (default Chinese)."""
    best: dict[str, float] = {}
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        if lang not in LANGS:
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        best[lang] = max(best.get(lang, 0.0), q)
    return "en" if best.get("en", 0.0) > best.get("zh", 0.0) else "zh"


class Translator:
    def __init__(self, lang: str):
        self.lang = lang

    def __call__(self, key: str) -> str:
        return MESSAGES.get(key, {}).get(self.lang, key)

    # Lights and statuses read the one wording catalogue (as reports and messages do).
    def light(self, value: str | None) -> str:
        return light_word(value, self.lang)

    def status(self, value: str | None) -> str:
        return status_word(value, self.lang)

    def ext_state(self, value: str) -> str:
        return EXT_STATES.get(value, {}).get(self.lang, value)
