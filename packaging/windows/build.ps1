# Build the Windows installer: dist\scriptwright-<version>-setup.exe.
# NOT RUN HERE (the project's machines are Linux). Needs Windows 10/11 x64, Python >= 3.11 (py launcher) and
# Inno Setup >= 6.3 (iscc.exe on PATH or in its default folder). Run from anywhere:
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
$ErrorActionPreference = "Stop"
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Root

$Version = (py -3.11 -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])").Trim()
$Venv = "packaging\.venv-build"
if (-not (Test-Path "$Venv\Scripts\python.exe")) { py -3.11 -m venv $Venv }
& "$Venv\Scripts\python.exe" -m pip install -q --upgrade pip
# The runtime dependencies and PyInstaller only; the app itself non-editable, so its metadata (version) is bundled.
& "$Venv\Scripts\python.exe" -m pip install -q -r packaging\requirements-build.txt .
if ($LASTEXITCODE -ne 0) { throw "pip install failed" }

$env:QT_QPA_PLATFORM = "offscreen"
& "$Venv\Scripts\python.exe" packaging\make_icons.py build\packaging\icons
Remove-Item Env:QT_QPA_PLATFORM
$env:SCRIPTWRIGHT_ICON_DIR = "build\packaging\icons"
& "$Venv\Scripts\pyinstaller.exe" --noconfirm --distpath build\packaging\dist --workpath build\packaging\work packaging\scriptwright.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }

$Printed = (& build\packaging\dist\scriptwright\scriptwright-cli.exe --version).Trim()
if ($Printed -ne "scriptwright $Version") { throw "the bundle prints '$Printed', expected 'scriptwright $Version'" }

$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
& $Iscc "/DAppVersion=$Version" packaging\windows\scriptwright.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
Write-Host "built dist\scriptwright-$Version-setup.exe"
