"""The follow-up mails: plain and short, a text part and an HTML alternative, saying who
sends them and why, with one-click links and RFC 8058 one-click unsubscribe."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

ANSWERS = (("done", "Done"), ("partly", "Partly"), ("not_yet", "Not yet"))
# Mail clients drop <style> blocks: the HTML part's styles are inline.
_BODY = (
    "font-family:system-ui,sans-serif;color:#1d1d1f;max-width:560px;margin:24px auto;"
    "padding:0 16px;line-height:1.5"
)
_QUOTE = "margin:16px 0;padding:8px 16px;border-left:4px solid #2b59c3;background:#f3f6fc"


@dataclass(frozen=True, slots=True)
class Mail:
    kind: str  # "reminder" | "check_in"
    label: str  # "reminder", "check-in 30d"
    to_name: str
    to_address: str
    show_title: str
    session_date: str
    commitment: str
    #: one-click answer links (check-ins), by answer
    answer_links: dict[str, str]
    unsubscribe_link: str
    recap_link: str


def compose(mail: Mail, *, sender: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    sender_name, sender_address = parseaddr(sender)
    user, _, domain = sender_address.partition("@")
    message["From"] = Address(sender_name or "facilbot", user, domain or "localhost")
    to_user, _, to_domain = mail.to_address.partition("@")
    message["To"] = Address(mail.to_name, to_user, to_domain)
    if mail.kind == "reminder":
        message["Subject"] = f"Your commitment from “{mail.show_title}”"
    else:
        message["Subject"] = f"Did it happen? Your commitment from “{mail.show_title}”"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=domain or "localhost")
    message["List-Unsubscribe"] = f"<{mail.unsubscribe_link}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_text(mail))
    message.add_alternative(_html(mail), subtype="html")
    return message


def _why(mail: Mail) -> str:
    return (
        f"You get this because you asked for it on the companion page of “{mail.show_title}” "
        f"({mail.session_date}). It is sent by facilbot on behalf of the session's facilitators."
    )


def _text(mail: Mail) -> str:
    lines = [f"Hello {mail.to_name},", ""]
    if mail.kind == "reminder":
        lines += [
            f"At “{mail.show_title}” on {mail.session_date} you committed to:",
            "",
            f"    {mail.commitment}",
            "",
            "This is your reminder. If it is done: well done. If not, there is still time.",
            f"See or change your commitment: {mail.recap_link}",
        ]
    else:
        lines += [
            f"At “{mail.show_title}” on {mail.session_date} you committed to:",
            "",
            f"    {mail.commitment}",
            "",
            "Did it happen? One click answers:",
            "",
        ]
        lines += [f"  {label}: {mail.answer_links[key]}" for key, label in ANSWERS]
    lines += [
        "",
        "--",
        _why(mail),
        f"No more of these mails: {mail.unsubscribe_link}",
        "",
    ]
    return "\n".join(lines)


def _html(mail: Mail) -> str:
    e = html.escape
    if mail.kind == "reminder":
        action = (
            "<p>This is your reminder. If it is done: well done. If not, there is still time.</p>"
            f'<p><a href="{e(mail.recap_link)}">See or change your commitment</a></p>'
        )
    else:
        buttons = " ".join(
            f'<a href="{e(mail.answer_links[key])}" style="display:inline-block;'
            "padding:8px 16px;margin:0 8px 8px 0;border:1px solid #2b59c3;border-radius:6px;"
            f'color:#2b59c3;text-decoration:none">{e(label)}</a>'
            for key, label in ANSWERS
        )
        action = f"<p>Did it happen? One click answers:</p><p>{buttons}</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(mail.show_title)}</title></head>
<body style="{_BODY}">
<p>Hello {e(mail.to_name)},</p>
<p>At “{e(mail.show_title)}” on {e(mail.session_date)} you committed to:</p>
<blockquote style="{_QUOTE}">{e(mail.commitment)}</blockquote>
{action}
<hr style="border:none;border-top:1px solid #ddd;margin:24px 0 12px">
<p style="font-size:13px;color:#666">{e(_why(mail))}<br>
<a href="{e(mail.unsubscribe_link)}" style="color:#666">No more of these mails</a></p>
</body></html>
"""
