from libs.server import run
from services.expense.app import build

run(build)
