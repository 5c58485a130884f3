; Inno Setup script: a Windows installer over the PyInstaller one-folder bundle.
; NOT BUILT OR TESTED HERE (the project's machines are Linux): run it on Windows with Inno Setup >= 6.3.
;
;   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
;
; which makes build\packaging\dist\scriptwright\ (PyInstaller, packaging\scriptwright.spec) and
; build\packaging\icons\scriptwright.ico (packaging\make_icons.py), then runs
;   iscc /DAppVersion=<pyproject version> packaging\windows\scriptwright.iss
; and writes dist\scriptwright-<version>-setup.exe. Paths below are relative to this file's folder.
; Uninstalling removes the installed files only: the user's data folder (%LOCALAPPDATA%\Scriptwright) and keys
; in Windows Credential Manager stay.

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=<pyproject version> scriptwright.iss
#endif

[Setup]
AppId={{6E0B7C1E-3C4B-4E8A-9B9E-5C2D1A7F4B21}
AppName=Scriptwright
AppVersion={#AppVersion}
AppVerName=Scriptwright {#AppVersion}
AppPublisher=Scriptwright
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\Scriptwright
DefaultGroupName=Scriptwright
DisableProgramGroupPage=yes
; Per-user or all-users install, the user chooses; per-user needs no administrator.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=scriptwright-{#AppVersion}-setup
SetupIconFile=..\..\build\packaging\icons\scriptwright.ico
UninstallDisplayIcon={app}\scriptwright.exe
UninstallDisplayName=Scriptwright
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\build\packaging\dist\scriptwright\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Scriptwright"; Filename: "{app}\scriptwright.exe"
Name: "{autodesktop}\Scriptwright"; Filename: "{app}\scriptwright.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\scriptwright.exe"; Description: "{cm:LaunchProgram,Scriptwright}"; Flags: nowait postinstall skipifsilent
