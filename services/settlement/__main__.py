from libs.server import run
from services.settlement.app import build

run(build)
