import smtplib


def test_signup_sends_a_welcome_mail(mail_server):
    with smtplib.SMTP(mail_server.host, mail_server.smtp_port) as smtp:  # your app's code here
        smtp.sendmail("app@example.com", "bob@example.com", b"Subject: Welcome\r\n\r\nHi Bob")
    [mail] = mail_server.wait_for_messages(1)
    assert mail["user"] == "bob"
    assert mail["subject"] == "Welcome"
