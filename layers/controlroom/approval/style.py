"""The approval page's stylesheet and the email's inline styles (no external CSS, no scripts, no images)."""

from __future__ import annotations

# Phone first: one column, nothing wider than the screen (long ARNs and JSON wrap anywhere), buttons
# large enough for a thumb, the environment banner full width and impossible to miss in prod.
PAGE_CSS = (
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1b1b1b;"
    "background:#f4f5f7;line-height:1.4;overflow-wrap:anywhere;word-break:break-word}"
    "main{max-width:46rem;margin:0 auto;padding:.75rem}"
    ".banner{display:block;width:100%;padding:.45rem .75rem;font-weight:700;letter-spacing:.06em;"
    "text-align:center;color:#fff;background:#3d5a80}"
    ".banner.prod{background:#b00020;font-size:1.15rem;padding:.6rem .75rem}"
    ".card{background:#fff;border:1px solid #d6d9de;border-radius:.6rem;padding:.75rem .9rem;margin:0 0 .75rem}"
    "h1{font-size:1.25rem;margin:0 0 .35rem;line-height:1.3}"
    "h2{font-size:1.05rem;margin:.6rem 0 .3rem}h3{font-size:.95rem;margin:.6rem 0 .2rem}"
    "dl.facts{display:grid;grid-template-columns:minmax(4rem,max-content) 1fr;gap:.15rem .7rem;margin:.4rem 0 0}"
    "dl.facts dt{color:#555;font-size:.9rem}dl.facts dd{margin:0;min-width:0}"
    "#status-message{margin:.2rem 0 .3rem;font-weight:600}"
    ".ok{color:#135e1b}.warn{color:#8a5a00}.error{color:#a11}"
    ".risk-high,.risk-medium{color:#a11;font-weight:700}.risk-low,.risk-none{color:#135e1b}"
    "code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;overflow-wrap:anywhere}"
    "pre{white-space:pre-wrap;word-break:break-all;background:#f4f5f7;padding:.4rem;border-radius:.3rem;"
    "margin:.3rem 0;max-width:100%}"
    "textarea{width:100%;min-height:2.6rem;font:inherit;padding:.35rem;border:1px solid #aab;border-radius:.3rem}"
    "label{font-size:.9rem}"
    ".buttons{display:flex;gap:.6rem;margin:.5rem 0 .25rem}"
    "button{flex:1;font:inherit;font-size:1.05rem;font-weight:700;min-height:3rem;border-radius:.5rem;"
    "cursor:pointer;border:2px solid transparent}"
    "#approve{background:#1a7f37;color:#fff;border-color:#1a7f37}"
    "#reject{background:#fff;color:#a11;border-color:#a11}"
    "details{background:#fff;border:1px solid #d6d9de;border-radius:.6rem;padding:.5rem .9rem;margin:0 0 .5rem}"
    "summary{cursor:pointer;font-weight:600}"
    "ul,ol{padding-left:1.2rem;margin:.3rem 0}li{margin:.15rem 0}"
    "fieldset{border:0;padding:0;margin:.3rem 0}"
    ".muted{color:#555;font-size:.9rem}"
)

# Mail clients drop <style> blocks and most layout CSS: every element carries its own style.
EMAIL_BODY = "margin:0;padding:0;background:#f4f5f7;font-family:Arial,Helvetica,sans-serif;color:#1b1b1b"
EMAIL_CONTAINER = (
    "max-width:600px;margin:0 auto;background:#ffffff;border:1px solid #d6d9de;"
    "word-break:break-word;overflow-wrap:anywhere"
)
EMAIL_BANNER_PROD = (
    "background:#b00020;color:#ffffff;font-weight:bold;font-size:18px;letter-spacing:1px;"
    "text-align:center;padding:10px"
)
EMAIL_BANNER = (
    "background:#3d5a80;color:#ffffff;font-weight:bold;font-size:15px;letter-spacing:1px;"
    "text-align:center;padding:8px"
)
EMAIL_CELL = "padding:14px 18px"
EMAIL_H1 = "font-size:20px;line-height:1.3;margin:0 0 8px 0"
EMAIL_LABEL = "color:#555555;font-size:14px;padding:2px 10px 2px 0;vertical-align:top;white-space:nowrap"
EMAIL_VALUE = "font-size:14px;padding:2px 0;vertical-align:top"
EMAIL_BUTTON = (
    "display:inline-block;background:#1a7f37;color:#ffffff;font-size:18px;font-weight:bold;"
    "text-decoration:none;padding:14px 28px;border-radius:6px"
)
EMAIL_H2 = "font-size:16px;margin:16px 0 6px 0"
EMAIL_TEXT = "font-size:14px;line-height:1.4;margin:4px 0"
EMAIL_PRE = (
    "font-family:Consolas,Menlo,monospace;font-size:13px;white-space:pre-wrap;word-break:break-all;"
    "background:#f4f5f7;padding:6px;margin:4px 0"
)
EMAIL_SMALL = "font-size:12px;color:#555555;margin:12px 0 0 0"
