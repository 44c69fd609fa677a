"""Vocabulary for realistic synthetic security data (§5.3-§5.6).

Plain constants: alert scenarios with their product, category, MITRE techniques and entity types,
and the names, hosts, files and texts the generator draws from. Hosts and addresses use
documentation ranges and `.example` domains only.
"""

from __future__ import annotations

from typing import NamedTuple


class Product(NamedTuple):
    """A detection product: service source per payload style (§5.4), alert id prefix."""

    doc_source: str
    live_source: str
    prefix: str


PRODUCTS = {
    "mde": Product("MicrosoftDefenderATP", "MicrosoftDefenderForEndpoint", "da"),
    "mdo": Product("OfficeATP", "MicrosoftDefenderForOffice365", "fa"),
    "mca": Product("MicrosoftCloudAppSecurity", "MicrosoftCloudAppSecurity", "ca"),
    "aad": Product("AADIdentityProtection", "AADIdentityProtection", "ad"),
}


class Scenario(NamedTuple):
    """One alert type. `entities` lists entity types (§5.6); `device` adds devices (§5.5)."""

    title: str
    category: str
    product: str
    detection_source: str
    mitre: tuple[str, ...]
    entities: tuple[str, ...]
    device: bool
    severity: str
    threat_family: str | None = None
    group: str = "endpoint"


# fmt: off
SCENARIOS = (
    Scenario("Suspicious PowerShell command line", "Execution", "mde", "WindowsDefenderAtp",
             ("T1059.001",), ("Process", "File", "User"), True, "Medium"),
    Scenario("Document macro launched a script host", "Execution", "mde", "WindowsDefenderAtp",
             ("T1204.002", "T1059.005"), ("File", "Process", "User"), True, "High"),
    Scenario("'Emotet' malware was detected", "Malware", "mde", "WindowsDefenderAv",
             (), ("File", "Process"), True, "Medium", "Emotet"),
    Scenario("'Mimikatz' credential theft tool", "CredentialAccess", "mde", "WindowsDefenderAtp",
             ("T1003.001",), ("File", "Process", "User"), True, "High", "Mimikatz"),
    Scenario("Ransomware behavior detected in the file system", "Impact", "mde",
             "WindowsDefenderAtp", ("T1486",), ("Process", "File", "User"), True, "High"),
    Scenario("Suspicious LSASS memory access", "CredentialAccess", "mde", "WindowsDefenderAtp",
             ("T1003.001",), ("Process", "User"), True, "High"),
    Scenario("Suspicious registry modification for persistence", "Persistence", "mde",
             "WindowsDefenderAtp", ("T1547.001",), ("Registry", "Process"), True, "Medium"),
    Scenario("Connection to a custom network indicator", "CommandAndControl", "mde",
             "WindowsDefenderAtp", ("T1071.001",), ("Url", "Ip", "Process"), True, "Medium"),
    Scenario("'Wacatac' unwanted software was prevented", "UnwantedSoftware", "mde",
             "WindowsDefenderAv", (), ("File",), True, "Low", "Wacatac"),
    Scenario("Automated investigation remediated a suspicious process", "SuspiciousActivity",
             "mde", "AutomatedInvestigation", ("T1055",), ("Process", "File"), True,
             "Informational"),
    Scenario("Email messages containing malicious URL removed after delivery", "InitialAccess",
             "mdo", "OfficeATP", ("T1566.002",), ("MailMessage", "Url", "Mailbox", "MailCluster"),
             False, "Medium", None, "email"),
    Scenario("Email reported by user as malware or phish", "InitialAccess", "mdo", "OfficeATP",
             ("T1566.001",), ("MailMessage", "Mailbox", "File"), False, "Informational", None,
             "email"),
    Scenario("A potentially malicious URL click was detected", "InitialAccess", "mdo",
             "OfficeATP", ("T1566.002", "T1204.001"), ("Url", "User", "MailMessage"), False,
             "High", None, "email"),
    Scenario("Suspicious inbox manipulation rule", "Persistence", "mca", "MCAS",
             ("T1564.008",), ("Mailbox", "User", "Ip"), False, "Medium", None, "email"),
    Scenario("Activity from an anonymous proxy", "InitialAccess", "mca", "MCAS",
             (), ("Ip", "User"), False, "Low", None, "identity"),
    Scenario("Impossible travel activity", "InitialAccess", "mca", "MCAS",
             ("T1078",), ("User", "Ip"), False, "Medium", None, "identity"),
    Scenario("Mass download by a single user", "Exfiltration", "mca", "MCAS",
             ("T1530",), ("User", "Ip"), False, "Medium", None, "identity"),
    Scenario("Addition of a user to a privileged security group", "PrivilegeEscalation", "mca",
             "MCAS", ("T1098",), ("SecurityGroup", "User"), False, "Medium", None, "identity"),
    Scenario("Unfamiliar sign-in properties", "InitialAccess", "aad", "AAD",
             ("T1078",), ("User", "Ip"), False, "Low", None, "identity"),
    Scenario("Password spray", "CredentialAccess", "aad", "AAD",
             ("T1110.003",), ("User", "Ip"), False, "High", None, "identity"),
)

# fmt: on

SCENARIO_GROUPS: dict[str, tuple[int, ...]] = {
    group: tuple(i for i, s in enumerate(SCENARIOS) if s.group == group)
    for group in ("endpoint", "email", "identity")
}

CATEGORY_LABELS = {
    "InitialAccess": "Initial access",
    "Execution": "Execution",
    "Persistence": "Persistence",
    "PrivilegeEscalation": "Privilege escalation",
    "CredentialAccess": "Credential access",
    "CommandAndControl": "Command and control",
    "Exfiltration": "Exfiltration",
    "Impact": "Impact",
    "Malware": "Malware",
    "UnwantedSoftware": "Unwanted software",
    "SuspiciousActivity": "Suspicious activity",
}

# fmt: off
FIRST_NAMES = (
    "Adele", "Alex", "Allan", "Bianca", "Carlos", "Chen", "Diego", "Emily", "Fatima", "Grace",
    "Hiro", "Isaiah", "Jan", "Johanna", "Kenji", "Lara", "Lidia", "Megan", "Miriam", "Nestor",
    "Omar", "Patti", "Pradeep", "Priya", "Raul", "Sakura", "Sofia", "Tomas", "Wei", "Zara",
)
LAST_NAMES = (
    "Vance", "Wilber", "Deyoung", "Ruiz", "Kowalski", "Zhang", "Garcia", "Braun", "Haddad",
    "Holmes", "Tanaka", "Okafor", "Novak", "Lindqvist", "Sato", "Moreau", "Holloway", "Bowen",
    "Levi", "Fernandez", "Rahman", "Fernandes", "Natarajan", "Iyer", "Santos", "Ito", "Rossi",
    "Dvorak", "Chen", "Ahmed",
)
# fmt: on
MSSP_ANALYSTS = (
    "alex.morgan@contoso-mssp.example",
    "sam.okafor@contoso-mssp.example",
    "lee.tanaka@contoso-mssp.example",
    "riley.novak@contoso-mssp.example",
    "soc-tier2@contoso-mssp.example",
)
# fmt: off
DEVICE_ROLES = (
    ("fin-ws", "Finance"), ("hr-ws", "Human Resources"), ("eng-lt", "Engineering"),
    ("mkt-lt", "Marketing"), ("exec-lt", "Executives"), ("srv-sql", "Servers"),
    ("srv-app", "Servers"), ("dc", "Domain Controllers"), ("kiosk", None),
)
OS_PLATFORMS = (
    ("Windows11", "23H2", 22631), ("Windows11", "22H2", 22621), ("Windows10", "22H2", 19045),
    ("WindowsServer2022", "21H2", 20348), ("WindowsServer2019", "1809", 17763),
    ("WindowsServer2016", "1607", 14393),
)
# fmt: on
MALWARE_FILES = (
    ("invoice_0217.docm", r"C:\Users\{user}\Downloads"),
    ("payment_advice.xlsm", r"C:\Users\{user}\AppData\Local\Temp"),
    ("update.ps1", r"C:\ProgramData\Updater"),
    ("svch0st.exe", r"C:\Windows\Temp"),
    ("mimikatz.exe", r"C:\Users\Public"),
    ("rclone.exe", r"C:\PerfLogs"),
    ("setup_free_pdf.exe", r"C:\Users\{user}\Downloads"),
    ("beacon.dll", r"C:\Windows\System32\spool\drivers\color"),
)
COMMAND_LINES = (
    "powershell.exe -NoP -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA",
    'wscript.exe "C:\\Users\\Public\\run.vbs"',
    "rundll32.exe C:\\Windows\\Temp\\beacon.dll,StartW",
    "cmd.exe /c vssadmin delete shadows /all /quiet",
    'reg.exe add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v upd /d "upd.exe"',
    "procdump64.exe -accepteula -ma lsass.exe C:\\Windows\\Temp\\ls.dmp",
)
PARENT_PROCESSES = ("explorer.exe", "winword.exe", "excel.exe", "services.exe", "cmd.exe")
URLS = (
    "https://login-micros0ft-support.example/owa/auth",
    "https://invoice-portal.example/download?id=8842",
    "http://198.51.100.77/gate.php",
    "https://cdn-updates.example/pkg/update.bin",
    "https://sharepoint-docs-share.example/s/Q3-report",
)
MAIL_SUBJECTS = (
    "Invoice overdue - action required",
    "Your mailbox is almost full",
    "Payroll update for this month",
    "Shared document: Q3 financials",
    "DocuSign: please review and sign",
)
EXTERNAL_SENDERS = (
    "billing@invoice-portal.example",
    "it-helpdesk@login-micros0ft-support.example",
    "no-reply@docs-share.example",
)
SECURITY_GROUPS = ("Domain Admins", "Global Readers", "Finance Approvers", "Helpdesk Operators")
REGISTRY_KEYS = (
    r"Software\Microsoft\Windows\CurrentVersion\Run",
    r"Software\Microsoft\Windows\CurrentVersion\RunOnce",
    r"System\CurrentControlSet\Services\UpdSvc",
)
VERDICTS = ("Suspicious", "Malicious", "Suspicious", "NoThreatsFound")
REMEDIATION = ("None", "Prevented", "Remediated", "None")
TAGS = ("VIP", "Phishing campaign", "Ransomware", "Credential theft", "Escalated", "demo")
COMMENTS = (
    "Triaged by SOC tier 1; escalating for containment.",
    "Device isolated pending reimage.",
    "User confirmed the sign-in was not theirs; password reset enforced.",
    "Matches a known phishing campaign; related messages purged.",
    "Benign: approved admin tooling. Closing.",
    "Customer notified by phone.",
)
